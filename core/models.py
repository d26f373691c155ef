"""The records the plugin keeps: jobs, their schedule, payload, delivery and runs.

Instants are integer milliseconds since the Unix epoch (UTC); zones are IANA names.
Pydantic validates every record that comes out of the database, so a row that was
tampered with fails loudly instead of running with nonsense.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ScheduleKind(StrEnum):
    AT = "at"
    EVERY = "every"
    CRON = "cron"


class Mode(StrEnum):
    """What a run does: send text as written, or ask an agent (in the owner's chat, or alone)."""

    REMINDER = "reminder"
    MAIN = "main"
    ISOLATED = "isolated"


class CatchUp(StrEnum):
    """What to do with slots missed while the bot was down."""

    ONCE = "once"
    SKIP = "skip"
    ALL = "all"


class RunStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"
    MISSED = "missed"


class Delivery(StrEnum):
    """Whether a run's output reached anyone; a run that sent nothing is never a silent success."""

    PENDING = "pending"
    DELIVERED = "delivered"
    NOT_DELIVERED = "not-delivered"
    NOT_REQUESTED = "not-requested"
    UNKNOWN = "unknown"
    """The bot stopped during the run before it learned whether a message went out: the
    platform may have taken it without the acknowledgement reaching AstrBot."""


class Trigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=False, use_enum_values=False)


class Schedule(_Record):
    """When a job runs. Exactly the fields of its kind are set."""

    kind: ScheduleKind
    tz: str = "UTC"
    at_ms: int | None = None
    every_ms: int | None = Field(default=None, gt=0)
    anchor_ms: int | None = None
    expr: str | None = None
    text: str = ""  # as the user wrote it, for display


class Payload(_Record):
    mode: Mode = Mode.REMINDER
    message: str
    media: list[str] = Field(default_factory=list)  # paths or URLs of image/file/audio/video
    provider_id: str | None = None
    persona_id: str | None = None
    timeout_seconds: int | None = Field(default=None, gt=0)
    wake_mode: Literal["now", "next-heartbeat"] = "now"
    post_prefix: str | None = None  # isolated: this task's post-to-main prefix (None: setting)


class Target(_Record):
    """Where output goes. Unset fields mean: the job's origin session."""

    deliver: bool | None = None
    channel: str | None = None
    to: str | None = None
    best_effort: bool = False
    session: str | None = None  # channel/to resolved at creation; None: the origin (or last)


class Owner(_Record):
    origin: str  # the unified_msg_origin the job was created in
    sender_id: str
    sender_name: str = ""


class Job(_Record):
    id: str
    name: str = ""
    owner: Owner
    schedule: Schedule
    payload: Payload
    target: Target = Field(default_factory=Target)
    catch_up: CatchUp = CatchUp.ONCE
    delete_after_run: bool = False
    enabled: bool = True
    created_at: int
    updated_at: int
    # state
    next_run_at: int | None = None  # when the engine should fire it (indexed)
    next_slot_at: int | None = None  # the schedule slot that firing stands for
    running_run_id: str | None = None  # the claim marker; set while a run is in flight
    running_slot_at: int | None = None
    last_run_at: int | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_delivery: str | None = None
    consecutive_errors: int = 0
    schedule_errors: int = 0
    retries: int = 0  # one-shot retries used (transient failures, interrupted runs)
    last_alert_at: int | None = None
    version: int = Field(default=0, exclude=True)
    """The row's version as read (a column, not part of the body): every write checks it."""

    @property
    def is_one_shot(self) -> bool:
        return self.schedule.kind == ScheduleKind.AT

    @property
    def display_name(self) -> str:
        return self.name or self.payload.message[:40]


class Run(_Record):
    run_id: str
    job_id: str
    trigger: Trigger = Trigger.SCHEDULE
    slot_at: int | None = None
    started_at: int
    ended_at: int | None = None
    status: RunStatus = RunStatus.RUNNING
    late: bool = False
    delivery: Delivery = Delivery.PENDING
    output: str = ""
    error: str = ""
