"""The fields of a create or edit request, declared once, and which front door takes each.

``JobFields`` declares every field a request may set: its type, its limits and the
sentence the model reads in the tools' schema. ``DOORS`` says, in one table, under which
name each door takes a field (the tools' parameter, the web body's names, the ``/cron``
options) and which doors do not take it. The tools' JSON schemas (tools/), the web body
check (core/views.py) and the ``/cron`` option map (core/cron_command.py) are derived
from these two, so a field added here reaches every door that should accept it.

What each value means (ranges of zones, admin-only knobs, the schedule phrases) stays with
the service: the doors only check the JSON type before handing the fields on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

TOOLS, WEB, CRON = "tools", "web", "cron"
TAKES_VALUE = "<value>"
"""A ``/cron`` option followed by its value (``--tz Asia/Shanghai``), as opposed to a
flag that sets a fixed value (``--no-deliver`` sets deliver to false)."""


class JobFields(BaseModel):
    """Every field of a create or edit request (all optional here; the service decides)."""

    message: str = Field(
        None,
        description="For a reminder: the text sent to the user word for word when it fires, "
        "written to them ('Time for the meeting', not 'Remind the user to go to the meeting'). "
        "For an agent task: the instruction to carry out when it fires.",
    )
    mode: Literal["reminder", "main", "isolated"] = Field(
        None,
        description="reminder (default): send the message as written, no model. main: hand "
        "the event to you in this conversation. isolated: a separate agent run whose answer is "
        "delivered (use it for 'check X and tell me').",
    )
    when: str = Field(
        None, description="Any schedule: a time, a duration, 'every 2h', a phrase or cron."
    )
    run_at: str = Field(
        None,
        description="Run once. Pass the user's own words for the time: 'tomorrow 8am', "
        "'in 10 minutes', 'next monday 9:00', 'Dec 24 18:00', '明天早上8点', '十分钟后', "
        "'下周一上午9点'; or '20m', '08:00' (the next one), ISO '2026-01-12T18:00' (read in the "
        "task's zone) or with an offset. A phrase with two readings is answered with a "
        "question: ask the user, do not guess.",
    )
    every: str = Field(
        None,
        description="Repeat at a fixed interval from now: '30m', '2h', '2 hours', '每隔两小时'.",
    )
    cron: str = Field(
        None,
        description="Repeat on days and times, in the task's zone: a recurring phrase "
        "('every weekday at 9', 'every Friday at 5 PM', '每天早上8点', '每周五下午5点') or a "
        "5-field cron expression ('0 8 * * *', '0 9 * * mon-fri').",
    )
    tz: str = Field(None, description="IANA time zone, e.g. 'Asia/Shanghai'. Default: see above.")
    name: str = Field(None, description="A short label for the task.")
    deliver: bool = Field(None, description="false: run without sending the result anywhere.")
    channel: str = Field(
        None,
        description="Where to deliver: a platform id as configured in AstrBot (e.g. "
        "'telegram', 'aiocqhttp'), or 'last' for where the user last talked with you. Empty: "
        "this chat.",
    )
    to: str = Field(
        None,
        description="Chat on that platform (admins only), in its form: QQ group:<n> or "
        "user:<n>; Slack, Discord, Satori channel:<id> or user:<id>; Lark oc_ chat or ou_ "
        "user id; Misskey user:<id> or room:<id>; Telegram chat id '-1001234567890' or a "
        "topic '-1001234567890:topic:123'; or a full session 'platform:GroupMessage:id'. "
        "Empty: this chat.",
    )
    best_effort: bool = Field(
        None,
        description="true: a failed delivery does not fail the run (it is still recorded as "
        "not delivered).",
    )
    delete_after_run: bool = Field(
        None, description="One-time tasks are deleted after a successful run unless false."
    )
    catch_up: Literal["once", "skip", "all"] = Field(
        None,
        description="Runs missed while the bot was down: once (default, the latest), skip, all.",
    )
    provider_id: str = Field(
        None, description="Provider id for agent runs; empty: the chat's current one."
    )
    persona_id: str = Field(
        None, description="Persona id for agent runs; empty: the chat's current one."
    )
    timeout_seconds: int = Field(
        None,
        ge=1,
        le=86400,
        description="How long one run may take before it is stopped, in seconds. Default: "
        "600 for agent tasks, 60 for reminders; long timeouts are for admins.",
    )
    wake_mode: Literal["now", "next-heartbeat"] = Field(
        None,
        description="main: now (default) hands the event over at once; next-heartbeat waits "
        "for the conversation's next heartbeat.",
    )
    media: list[str] = Field(
        None,
        description="Images or files sent with the message: up to 10 paths or URLs.",
    )
    post_prefix: str = Field(
        None, description="isolated: the label its result carries in this conversation."
    )
    enabled: bool = Field(None, description="false pauses the task, true resumes it.")


@dataclass(frozen=True, slots=True)
class Doors:
    """Under which names each front door takes one field; None or empty: it does not."""

    tool: str | None
    web: tuple[str, ...]
    cron: dict[str, Any] = field(default_factory=dict)
    """``/cron`` options: option -> TAKES_VALUE, or the fixed value the flag sets."""


def _same(name: str, **cron: Any) -> Doors:
    """A field every door takes under its own name (plus the given ``/cron`` options)."""
    return Doors(tool=name, web=(name,), cron=cron)


def _option(flag: str) -> dict[str, Any]:
    return {flag: TAKES_VALUE}


DOORS: dict[str, Doors] = {
    # The /cron grammar fills message from its text (``--text`` on edit) and when from its
    # <when> word; it has no options for run_at / every / cron (the <when> word covers them).
    "message": Doors(tool="message", web=("message",)),
    "mode": Doors(
        tool="mode",
        web=("mode",),
        cron={
            "--agent": "isolated",
            "--isolated": "isolated",
            "--main": "main",
            "--reminder": "reminder",
        },
    ),
    "when": Doors(tool=None, web=("when",)),  # the tools ask for one of run_at/every/cron
    "run_at": Doors(tool="run_at", web=("run_at",)),
    "every": Doors(tool="every", web=("every",)),
    "cron": Doors(tool="cron", web=("cron",)),
    "tz": _same("tz", **_option("--tz")),
    "name": _same("name", **_option("--name")),
    "deliver": _same("deliver", **{"--deliver": True, "--no-deliver": False}),
    "channel": _same("channel", **_option("--channel")),
    "to": _same("to", **_option("--to")),
    "best_effort": _same("best_effort", **{"--best-effort": True}),
    "delete_after_run": _same("delete_after_run", **{"--keep": False}),
    "catch_up": _same("catch_up", **_option("--catch-up")),
    "provider_id": Doors(
        tool="model",
        web=("provider_id", "model", "provider"),
        cron={"--model": TAKES_VALUE, "--provider": TAKES_VALUE},
    ),
    "persona_id": Doors(tool="persona", web=("persona_id", "persona"), cron=_option("--persona")),
    "timeout_seconds": _same("timeout_seconds", **_option("--timeout")),
    "wake_mode": _same("wake_mode", **_option("--wake")),
    "media": Doors(tool="media", web=("media",)),  # a chat command carries no files
    "post_prefix": _same("post_prefix", **_option("--prefix")),
    "enabled": Doors(tool="enabled", web=("enabled",)),  # /cron has pause and resume
}
EDIT_ONLY = frozenset({"enabled"})
"""Fields only an edit takes; every other field is taken by create and edit alike."""


def json_schema(field_name: str) -> dict[str, Any]:
    """The flat JSON schema of one field (type, enum, limits, description)."""
    schema = dict(_PROPERTIES[field_name])
    schema.pop("title", None)
    schema.pop("default", None)
    return schema


_PROPERTIES: dict[str, dict[str, Any]] = JobFields.model_json_schema()["properties"]


def fields_for(edit: bool) -> list[str]:
    """The fields of a create (``edit`` False) or of an edit, in declaration order."""
    return [name for name in JobFields.model_fields if edit or name not in EDIT_ONLY]


def tool_properties(edit: bool) -> dict[str, dict[str, Any]]:
    """The tools' parameters for the request fields, by the tools' names."""
    return {
        doors.tool: json_schema(name)
        for name in fields_for(edit)
        if (doors := DOORS[name]).tool is not None
    }


def web_fields(edit: bool) -> dict[str, dict[str, Any]]:
    """Every name a web body may use for a request field, with that field's schema."""
    return {web: json_schema(name) for name in fields_for(edit) for web in DOORS[name].web}


def aliases() -> dict[str, str]:
    """Other names of a field (``model`` for provider_id) -> the field's own name."""
    return {
        other: name
        for name, doors in DOORS.items()
        for other in {doors.tool, *doors.web} - {None, name}
    }


def cron_options() -> dict[str, tuple[str, Any]]:
    """``/cron`` option -> (the field it sets, TAKES_VALUE or the fixed value)."""
    return {
        option: (name, value)
        for name, doors in DOORS.items()
        for option, value in doors.cron.items()
    }
