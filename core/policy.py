"""The rules of SPEC §6 as pure functions: what a job looks like after a run, a crash or
downtime. The engine does the I/O; everything decided here is tested without any.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import CatchUp, Delivery, Job, Run, RunStatus, ScheduleKind, Trigger
from .schedule import ScheduleError, fires_between, next_run_after
from .settings import Settings

SECOND_MS = 1000
BACKOFF_MS = (30_000, 60_000, 300_000, 900_000, 3_600_000)
RETRY_MS = (30_000, 60_000, 300_000)
MAX_SCHEDULE_ERRORS = 3
SCHEDULE_RETRY_MS = 60_000
LATE_AFTER_MS = 60_000
ALL_CATCH_UP_CAP = 50
MISSED_ROWS_CAP = 20


@dataclass(slots=True)
class Outcome:
    """What an executor reports about one run."""

    status: RunStatus
    delivery: Delivery = Delivery.NOT_REQUESTED
    output: str = ""
    error: str = ""
    transient: bool = False

    @property
    def ok(self) -> bool:
        return self.status == RunStatus.OK


@dataclass(slots=True)
class Decision:
    """The job after a run: save it, or delete it; and maybe a sentence for its owner."""

    job: Job
    delete: bool = False
    alert: str | None = None


@dataclass(slots=True)
class CatchUpPlan:
    next_run_at: int | None
    next_slot_at: int | None
    missed: list[Run] = field(default_factory=list)
    runs_now: bool = False  # a missed slot will run (late) right away


@dataclass(slots=True)
class RunInfo:
    """The facts of one run that the rules need."""

    slot_at: int | None  # the schedule slot it stood for; None for a manual run off schedule
    trigger: Trigger
    started_at: int


def apply_outcome(job: Job, run: RunInfo, outcome: Outcome, now: int, cfg: Settings) -> Decision:
    """The job's state after one run."""
    job.last_run_at = now
    job.last_status = outcome.status.value
    job.last_error = outcome.error or None
    job.last_delivery = outcome.delivery.value
    job.consecutive_errors = 0 if outcome.ok else job.consecutive_errors + 1
    decision = Decision(job)
    if run.slot_at is not None:
        if job.is_one_shot:
            decision = _after_one_shot(job, outcome, now)
        else:
            decision = _after_recurring(job, run, outcome, now)
    elif run.trigger == Trigger.SCHEDULE:  # a claim with no slot: the schedule needs recomputing
        decision = recompute_schedule(job, now)
    if not outcome.ok and decision.alert is None:
        decision.alert = _failure_alert(job, outcome, now, cfg)
    if not job.enabled:  # paused during the run: it stays paused
        job.next_run_at = job.next_slot_at = None
    return decision


def _after_one_shot(job: Job, outcome: Outcome, now: int) -> Decision:
    if outcome.ok:
        job.retries = 0
        if job.delete_after_run:
            return Decision(job, delete=True)
        _disable(job)
        return Decision(job)
    if outcome.transient and job.retries < len(RETRY_MS):
        job.next_run_at = now + RETRY_MS[job.retries]
        job.retries += 1
        return Decision(job)
    _disable(job)
    return Decision(job)


def _after_recurring(job: Job, run: RunInfo, outcome: Outcome, now: int) -> Decision:
    assert run.slot_at is not None
    slot_at = run.slot_at
    every = job.schedule.kind == ScheduleKind.EVERY and job.catch_up != CatchUp.ALL
    if every and is_late(slot_at, run.started_at):
        # A late run (after downtime or a backoff) re-anchors the interval grid at its
        # start, so the next run keeps the full interval instead of following at once.
        job.schedule.anchor_ms = run.started_at
    # ``all`` walks every slot in order; the others go on from now. Either way the next
    # run is strictly after the slot that just ran.
    base = slot_at if job.catch_up == CatchUp.ALL else max(slot_at, now)
    try:
        natural = next_run_after(job.schedule, base)
    except ScheduleError as exc:
        return _schedule_failed(job, now, str(exc))
    job.schedule_errors = 0
    job.next_slot_at = natural
    job.next_run_at = natural
    if not outcome.ok and natural is not None:
        backoff = BACKOFF_MS[min(job.consecutive_errors, len(BACKOFF_MS)) - 1]
        job.next_run_at = max(natural, now + backoff)
    return Decision(job)


def recompute_schedule(job: Job, now: int) -> Decision:
    """Try again to compute the next run of a job whose schedule failed before."""
    try:
        natural = next_run_after(job.schedule, now)
    except ScheduleError as exc:
        return _schedule_failed(job, now, str(exc))
    job.schedule_errors = 0
    job.next_run_at = job.next_slot_at = natural
    if natural is None:
        _disable(job)
    return Decision(job)


def _schedule_failed(job: Job, now: int, reason: str) -> Decision:
    job.schedule_errors += 1
    job.last_error = f"schedule error: {reason}"
    if job.schedule_errors >= MAX_SCHEDULE_ERRORS:
        _disable(job)
        return Decision(
            job,
            alert=f"Task {job.id} ({job.display_name}) was disabled: its schedule can no longer "
            f"be computed ({reason}). Edit its schedule or time zone and resume it.",
        )
    job.next_run_at = now + SCHEDULE_RETRY_MS
    job.next_slot_at = None
    return Decision(job)


def _disable(job: Job) -> None:
    job.enabled = False
    job.next_run_at = None
    job.next_slot_at = None


def _failure_alert(job: Job, outcome: Outcome, now: int, cfg: Settings) -> str | None:
    if cfg.failure_alert_after <= 0 or job.consecutive_errors < cfg.failure_alert_after:
        return None
    if job.last_alert_at is not None and now - job.last_alert_at < cfg.failure_alert_cooldown_ms:
        return None
    job.last_alert_at = now
    state = (
        "It is disabled and kept for you to see." if not job.enabled else "It keeps its schedule."
    )
    return (
        f"Task {job.id} ({job.display_name}) failed {job.consecutive_errors} times in a row; "
        f"last error: {outcome.error or outcome.status.value}. {state}"
    )


def recover_interrupted(job: Job, delivered: bool, now: int) -> Decision:
    """A run that a crash cut short: recurring jobs go on, a one-shot runs again once."""
    slot_at = job.running_slot_at
    job.last_status = RunStatus.INTERRUPTED.value
    job.last_error = "interrupted: the bot stopped during the run"
    if slot_at is None:
        return Decision(job)
    if not job.is_one_shot:
        try:
            job.next_slot_at = job.next_run_at = next_run_after(job.schedule, slot_at)
        except ScheduleError as exc:
            return _schedule_failed(job, now, str(exc))
        return Decision(job)
    if delivered:  # the message went out before the crash: the one-shot is done
        job.last_status = RunStatus.OK.value
        if job.delete_after_run:
            return Decision(job, delete=True)
        _disable(job)
        return Decision(job)
    if job.retries < 1:
        job.retries += 1
        job.next_run_at = now
        job.next_slot_at = slot_at
        return Decision(job)
    _disable(job)
    job.last_error = "interrupted twice: disabled; run it again with run now or resume it"
    return Decision(
        job,
        alert=f"Task {job.id} ({job.display_name}) was paused: the bot stopped twice while it "
        f"ran, and it was not delivered. Run it now with /cron run {job.id}, or resume it.",
    )


def plan_catch_up(job: Job, now: int, cfg: Settings) -> CatchUpPlan:
    """What to do with a job whose slot passed while the bot was down (SPEC §6 downtime)."""
    slot = job.next_slot_at if job.next_slot_at is not None else job.next_run_at
    assert slot is not None
    window_start = now - cfg.catch_up_window_ms
    if job.is_one_shot:
        if job.catch_up == CatchUp.SKIP or slot < window_start:
            return CatchUpPlan(None, None, [_missed(job, slot, now)])
        return CatchUpPlan(now, slot, runs_now=True)
    try:
        stale = [slot] if slot < window_start else []
        stale += fires_between(job.schedule, slot, window_start - 1, MISSED_ROWS_CAP)
        recent = [slot] if slot >= window_start else []
        recent += _latest_fires(job, max(slot, window_start - 1), now)
        following = next_run_after(job.schedule, now)
    except ScheduleError:
        return CatchUpPlan(job.next_run_at, job.next_slot_at)  # the run path reports it
    missed = [_missed(job, s, now) for s in stale[-MISSED_ROWS_CAP:]]
    if job.catch_up == CatchUp.SKIP or not recent:
        missed += [_missed(job, s, now) for s in recent[-MISSED_ROWS_CAP:]]
        return CatchUpPlan(following, following, missed)
    if job.catch_up == CatchUp.ONCE:
        missed += [_missed(job, s, now) for s in recent[:-1][-MISSED_ROWS_CAP:]]
        return CatchUpPlan(now, recent[-1], missed, runs_now=True)
    kept = recent[-ALL_CATCH_UP_CAP:]
    missed += [_missed(job, s, now) for s in recent[:-ALL_CATCH_UP_CAP][-MISSED_ROWS_CAP:]]
    return CatchUpPlan(now, kept[0], missed, runs_now=True)


def _latest_fires(job: Job, after: int, until: int) -> list[int]:
    """The newest fires in ``(after, until]`` (enough of them for any policy), oldest first."""
    keep = ALL_CATCH_UP_CAP + MISSED_ROWS_CAP + 1
    tail: list[int] = []
    while True:
        chunk = fires_between(job.schedule, after, until, 1000)
        tail = (tail + chunk)[-keep:]
        if len(chunk) < 1000:
            return tail
        after = chunk[-1]


def _missed(job: Job, slot: int, now: int) -> Run:
    return Run(
        run_id=f"{job.id}-m{slot:x}",
        job_id=job.id,
        trigger=Trigger.SCHEDULE,
        slot_at=slot,
        started_at=now,
        ended_at=now,
        status=RunStatus.MISSED,
        late=True,
        delivery=Delivery.NOT_DELIVERED,
        error="missed while the bot was down",
    )


def is_late(slot_at: int | None, started_at: int) -> bool:
    return slot_at is not None and started_at - slot_at > LATE_AFTER_MS
