"""SPEC §6 as a table: each row is one event meeting one state of a job, named by the
sentence of the spec it checks, with the job that must come out and the effects.

``transition`` is pure, so these need no store, clock or engine; the engine tests show
the same rules at work with the real store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from core.models import CatchUp, Delivery, Job, Owner, Payload, RunStatus, Schedule, ScheduleKind
from core.models import Trigger as T
from core.policy import (
    BACKOFF_MS,
    RETRY_MS,
    Alert,
    CaughtUp,
    Claimed,
    Created,
    Delete,
    Deleted,
    Edited,
    Event,
    Finished,
    Outcome,
    Paused,
    RecordMissed,
    Recovered,
    Resumed,
    RunsLate,
    SetAside,
    transition,
    transition_or_set_aside,
)
from core.settings import Settings

from .conftest import at

NOW = at("2026-01-05 10:00")
MIN = 60_000
HOUR = 60 * MIN
CFG = Settings()


def one_shot(**state: Any) -> Job:
    """A one-shot reminder due at NOW (created an hour before)."""
    schedule = Schedule(kind=ScheduleKind.AT, at_ms=NOW)
    return _job(
        schedule, **{"delete_after_run": True, "next_run_at": NOW, "next_slot_at": NOW} | state
    )


def hourly(**state: Any) -> Job:
    """A recurring ``0 * * * *`` reminder whose 10:00 slot is due at NOW."""
    schedule = Schedule(kind=ScheduleKind.CRON, expr="0 * * * *")
    return _job(schedule, **{"next_run_at": NOW, "next_slot_at": NOW} | state)


def _job(schedule: Schedule, **fields: Any) -> Job:
    return Job(
        id="j1",
        owner=Owner(origin="qq:FriendMessage:1", sender_id="1"),
        schedule=schedule,
        payload=Payload(message="stretch"),
        created_at=NOW - HOUR,
        updated_at=NOW - HOUR,
        **fields,
    )


def ran(status: RunStatus = RunStatus.OK, *, slot: int | None = NOW, trigger: T = T.SCHEDULE,
        delivery: Delivery = Delivery.DELIVERED, transient: bool = False,
        delivered_meanwhile: bool = False) -> Finished:  # fmt: skip
    """A run of the NOW slot that ended with ``status``."""
    outcome = Outcome(status, delivery, error="" if status == RunStatus.OK else "boom",
                      transient=transient)  # fmt: skip
    return Finished(slot, trigger, NOW, outcome, delivered_meanwhile)


@dataclass(frozen=True)
class Row:
    rule: str  # the sentence of SPEC §6 (or §3/§5) this row checks
    job: Job
    event: Event
    expect: dict[str, Any]  # the fields of the job that comes out
    effects: tuple[type, ...] = ()
    now: int = NOW
    cfg: Settings = field(default_factory=Settings)


NOT_DUE = NOW + 30 * MIN
TABLE = [
    # ----- created --------------------------------------------------------------------
    Row("a new one-shot is due at its moment", one_shot(next_run_at=None, next_slot_at=None),
        Created(), {"next_run_at": NOW, "next_slot_at": NOW}, now=NOW - HOUR),
    Row("a new recurring job is due at its first slot", hourly(next_run_at=None),
        Created(), {"next_run_at": NOW, "next_slot_at": NOW}, now=NOW - 30 * MIN),
    # ----- edited, paused, resumed ----------------------------------------------------
    Row("editing a field other than the schedule never moves the next run",
        hourly(next_run_at=NOW + 5 * MIN), Edited(), {"next_run_at": NOW + 5 * MIN}),
    Row("a new schedule re-arms the job from now (and resumes it)",
        hourly(enabled=False, next_run_at=None), Edited(rescheduled=True),
        {"enabled": True, "next_run_at": NOW + HOUR}),
    Row("an edit that pauses takes the job out of the schedule", hourly(),
        Edited(enabled=False), {"enabled": False, "next_run_at": None, "next_slot_at": None}),
    Row("a paused job does not run", hourly(), Paused(),
        {"enabled": False, "next_run_at": None}),
    Row("a resumed recurring job runs at its next slot, not the ones it missed paused",
        hourly(enabled=False, next_run_at=None, consecutive_errors=4), Resumed(),
        {"enabled": True, "next_run_at": NOW + HOUR, "consecutive_errors": 0}, now=NOW + 1),
    Row("a resumed one-shot whose time passed runs now",
        one_shot(enabled=False, next_run_at=None, retries=3), Resumed(),
        {"enabled": True, "next_run_at": NOW + HOUR, "next_slot_at": NOW, "retries": 0},
        now=NOW + HOUR),
    # ----- claimed --------------------------------------------------------------------
    Row("the timer claims a due slot before it runs", hourly(), Claimed(T.SCHEDULE, "r1"),
        {"running_run_id": "r1", "running_slot_at": NOW}),
    Row("run now on a due job is its due run: the slot is consumed once",
        hourly(), Claimed(T.MANUAL, "r1"), {"running_run_id": "r1", "running_slot_at": NOW}),
    Row("run now before the slot stands for no slot: the schedule is untouched",
        hourly(next_run_at=NOT_DUE, next_slot_at=NOT_DUE), Claimed(T.MANUAL, "r1"),
        {"running_run_id": "r1", "running_slot_at": None, "next_run_at": NOT_DUE}),
    # ----- finished: one-shots --------------------------------------------------------
    Row("a one-shot that ran is deleted by default", one_shot(), ran(), {}, (Delete,)),
    Row("a one-shot kept after its run is disabled, to be seen",
        one_shot(delete_after_run=False), ran(),
        {"enabled": False, "next_run_at": None, "last_status": "ok"}),
    Row("a transient one-shot failure is retried (first after 30 s)", one_shot(),
        ran(RunStatus.ERROR, delivery=Delivery.NOT_DELIVERED, transient=True),
        {"enabled": True, "next_run_at": NOW + RETRY_MS[0], "retries": 1}),
    Row("a one-shot that timed out is retried (a timeout is transient)", one_shot(),
        ran(RunStatus.TIMEOUT, delivery=Delivery.NOT_DELIVERED),
        {"enabled": True, "next_run_at": NOW + RETRY_MS[0], "retries": 1}),
    Row("after 3 retries a transient failure disables the one-shot",
        one_shot(retries=3, consecutive_errors=3),
        ran(RunStatus.ERROR, delivery=Delivery.NOT_DELIVERED, transient=True),
        {"enabled": False, "next_run_at": None}, (Alert,)),
    Row("a permanent failure disables the one-shot at once", one_shot(),
        ran(RunStatus.ERROR, delivery=Delivery.NOT_DELIVERED),
        {"enabled": False, "next_run_at": None, "last_error": "boom"}),
    Row("a run recorded as delivered is never retried: delivered, then timed out",
        one_shot(), ran(RunStatus.TIMEOUT, delivery=Delivery.NOT_DELIVERED,
                        delivered_meanwhile=True), {"last_delivery": "delivered"}, (Delete,)),
    Row("a run recorded as delivered is never retried: delivered, then a transient error",
        one_shot(delete_after_run=False),
        ran(RunStatus.ERROR, delivery=Delivery.DELIVERED, transient=True),
        {"enabled": False, "next_run_at": None, "retries": 0}),
    # ----- finished: recurring --------------------------------------------------------
    Row("a recurring job goes on to its next slot after a success", hourly(), ran(),
        {"next_run_at": NOW + HOUR, "next_slot_at": NOW + HOUR, "last_run_at": NOW,
         "running_run_id": None}),
    Row("a failing recurring job backs off (30 s, 1, 5, 15, 60 min)",
        _job(Schedule(kind=ScheduleKind.CRON, expr="*/5 * * * *"), next_run_at=NOW,
             next_slot_at=NOW, consecutive_errors=3),
        ran(RunStatus.ERROR, delivery=Delivery.NOT_DELIVERED),
        {"consecutive_errors": 4, "next_run_at": NOW + BACKOFF_MS[3],
         "next_slot_at": NOW + 5 * MIN}, (Alert,)),
    Row("a backoff never runs a recurring job before its next slot",
        hourly(consecutive_errors=3), ran(RunStatus.ERROR, delivery=Delivery.NOT_DELIVERED),
        {"consecutive_errors": 4, "next_run_at": NOW + HOUR}, (Alert,)),
    Row("a success resets the backoff", hourly(consecutive_errors=3), ran(),
        {"consecutive_errors": 0, "next_run_at": NOW + HOUR}),
    Row("a late interval run re-anchors its grid, so the next keeps the full interval",
        _job(Schedule(kind=ScheduleKind.EVERY, every_ms=HOUR, anchor_ms=NOW - HOUR),
             next_run_at=NOW, next_slot_at=NOW),
        Finished(NOW, T.SCHEDULE, NOW + 2 * MIN, Outcome(RunStatus.OK, Delivery.DELIVERED)),
        {"next_run_at": NOW + 2 * MIN + HOUR}, now=NOW + 3 * MIN),
    Row("a manual run off schedule leaves the schedule as it was",
        hourly(next_run_at=NOT_DUE, next_slot_at=NOT_DUE), ran(slot=None, trigger=T.MANUAL),
        {"next_run_at": NOT_DUE, "last_status": "ok"}),
    Row("a job paused while it ran stays paused", hourly(enabled=False), ran(),
        {"enabled": False, "next_run_at": None}),
    Row("after failure_alert_after failures in a row the owner is told",
        hourly(consecutive_errors=1), ran(RunStatus.ERROR, delivery=Delivery.NOT_DELIVERED),
        {"consecutive_errors": 2, "last_alert_at": NOW}, (Alert,)),
    Row("the failure alert waits out its cooldown",
        hourly(consecutive_errors=2, last_alert_at=NOW - 10 * MIN),
        ran(RunStatus.ERROR, delivery=Delivery.NOT_DELIVERED),
        {"consecutive_errors": 3, "last_alert_at": NOW - 10 * MIN}),
    # ----- recovered after a crash ----------------------------------------------------
    Row("a crash during a run: a recurring job goes on with its schedule",
        hourly(running_run_id="r1", running_slot_at=NOW), Recovered(delivered=False),
        {"next_run_at": NOW + HOUR, "last_status": "interrupted", "running_run_id": None},
        now=NOW + 5 * MIN),
    Row("a crash during a run: a one-shot runs again once",
        one_shot(running_run_id="r1", running_slot_at=NOW), Recovered(delivered=False),
        {"next_run_at": NOW + 5 * MIN, "next_slot_at": NOW, "retries": 1}, now=NOW + 5 * MIN),
    Row("a crash during a run: a one-shot whose delivery was recorded is done",
        one_shot(running_run_id="r1", running_slot_at=NOW), Recovered(delivered=True),
        {"last_status": "ok"}, (Delete,), now=NOW + 5 * MIN),
    Row("a one-shot interrupted twice is paused and its owner told",
        one_shot(running_run_id="r1", running_slot_at=NOW, retries=1),
        Recovered(delivered=False), {"enabled": False, "next_run_at": None}, (Alert,),
        now=NOW + 5 * MIN),
    # ----- caught up after downtime ---------------------------------------------------
    Row("downtime, catch_up once: the latest missed slot runs now, late; the rest missed",
        hourly(), CaughtUp(), {"next_run_at": NOW + 3 * HOUR + 1, "next_slot_at": NOW + 3 * HOUR},
        (RecordMissed, RunsLate), now=NOW + 3 * HOUR + 1),
    Row("downtime, catch_up skip: the slots are recorded as missed, nothing runs",
        hourly(catch_up=CatchUp.SKIP), CaughtUp(), {"next_run_at": NOW + 4 * HOUR},
        (RecordMissed,), now=NOW + 3 * HOUR + 1),
    Row("downtime, catch_up all: every missed slot, in order, from the first",
        hourly(catch_up=CatchUp.ALL), CaughtUp(), {"next_slot_at": NOW},
        (RunsLate,), now=NOW + 3 * HOUR + 1),
    Row("downtime: five catch-up runs start at once, the rest a few seconds apart",
        hourly(), CaughtUp(starting=5), {"next_run_at": NOW + 3 * HOUR + 1 + 2_000},
        (RecordMissed, RunsLate), now=NOW + 3 * HOUR + 1),
    Row("downtime: slots older than the catch-up window are missed, not run",
        one_shot(), CaughtUp(), {"enabled": False, "next_run_at": None, "last_status": "missed"},
        (RecordMissed,), now=NOW + 25 * HOUR),
    # ----- deleted, set aside ---------------------------------------------------------
    Row("deleting removes the job, even while it runs", hourly(running_run_id="r1"),
        Deleted(), {}, (Delete,)),
    Row("a job that cannot go on is set aside alone, its owner told",
        hourly(running_run_id="r1"), SetAside("AssertionError: x"),
        {"enabled": False, "next_run_at": None, "running_run_id": None,
         "last_error": "set aside: AssertionError: x"}, (Alert,)),
    Row("a job set aside again for the same reason does not tell its owner twice",
        hourly(enabled=False, next_run_at=None, last_error="set aside: AssertionError: x"),
        SetAside("AssertionError: x"), {"enabled": False}),
]  # fmt: skip


@pytest.mark.parametrize("row", TABLE, ids=[row.rule for row in TABLE])
def test_spec_6_transition(row: Row):
    before = row.job.model_dump()
    step = transition(row.job, row.event, row.now, row.cfg)
    assert {name: getattr(step.job, name) for name in row.expect} == row.expect
    assert sorted(type(e).__name__ for e in step.effects) == sorted(t.__name__ for t in row.effects)
    assert row.job.model_dump() == before  # pure: the job given is left as it was


EVENTS = {
    type(e).__name__
    for e in [Created(), Edited(), Paused(), Resumed(), Claimed(T.MANUAL, "r"), ran(),
              Recovered(False), CaughtUp(), Deleted(), SetAside("x")]
}  # fmt: skip


def test_the_table_covers_every_event():
    assert {type(row.event).__name__ for row in TABLE} == EVENTS
    assert set(Event.__args__) == {type(e) for row in TABLE for e in [row.event]}  # type: ignore[attr-defined]


def test_rules_that_fail_for_any_reason_set_the_job_aside_instead_of_raising():
    broken = hourly()
    broken.schedule.expr = None  # an assertion trips computing its next run
    step = transition_or_set_aside(broken, ran(), NOW, CFG)
    assert not step.job.enabled and step.aside and step.aside.startswith("AssertionError")
    assert [type(e) for e in step.effects] == [Alert]
