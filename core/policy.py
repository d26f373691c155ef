"""The state machine of SPEC §6 as one pure function: ``transition(job, event, now, cfg)``.

Every rule about what a job looks like next lives here and only here: creating, editing,
pausing, resuming, claiming, a finished run, a run a crash cut short, slots missed while
the bot was down, deleting, and setting a job aside. The engine, the service and the
host report *facts* (a run ended with this status, its output was delivered, the failure
looks transient) and write what this function returns; none of them decides.

The function never changes the job it is given: it answers a new job and the *effects*
the caller must carry out (delete the row, tell the owner, record missed slots).
Batched claims are written in SQL by the store for speed; ``claimed`` states the rule
they follow, and a test holds the SQL to it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from .models import CatchUp, Delivery, Job, Run, RunStatus, ScheduleKind, Trigger
from .schedule import ScheduleError, fires_between, next_run_after
from .settings import Settings

BACKOFF_MS = (30_000, 60_000, 300_000, 900_000, 3_600_000)
RETRY_MS = (30_000, 60_000, 300_000)
MAX_SCHEDULE_ERRORS = 3
SCHEDULE_RETRY_MS = 60_000
LATE_AFTER_MS = 60_000
ALL_CATCH_UP_CAP = 50
MISSED_ROWS_CAP = 20
STARTUP_BURST = 5
STARTUP_SPREAD_MS = 2_000
STARTUP_SPREAD_MAX_MS = 120_000


# ----- facts the host reports --------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """What an executor reports about one run: facts, never decisions."""

    status: RunStatus
    delivery: Delivery = Delivery.NOT_REQUESTED
    output: str = ""
    error: str = ""
    transient: bool = False
    """The failure looks like it may pass (rate limit, overload, network, 5xx)."""
    rate_limited: bool = False
    """Held back by a send limit: the host tells the owner itself (once an hour), so the
    failure streak raises no alert of its own."""

    @property
    def ok(self) -> bool:
        return self.status == RunStatus.OK


# ----- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Created:
    """A new job: its first run is set."""


@dataclass(frozen=True, slots=True)
class Edited:
    """The job's fields were edited (the job given carries them); ``rescheduled`` when its
    schedule or zone changed, ``enabled`` when the edit also pauses or resumes it."""

    rescheduled: bool = False
    enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class Paused:
    pass


@dataclass(frozen=True, slots=True)
class Resumed:
    pass


@dataclass(frozen=True, slots=True)
class Claimed:
    """A run starts: by the timer (the job is due) or by hand ("run now")."""

    trigger: Trigger
    run_id: str


@dataclass(frozen=True, slots=True)
class Finished:
    """A run ended. ``delivered``: a delivery of this run was recorded while it went on
    (an agent that sent a message and then failed or timed out)."""

    slot_at: int | None  # the slot it stood for; None for a manual run off schedule
    trigger: Trigger
    started_at: int
    outcome: Outcome
    delivered: bool = False


@dataclass(frozen=True, slots=True)
class Recovered:
    """At start, the job still carries the claim marker of a run a crash cut short."""

    delivered: bool


@dataclass(frozen=True, slots=True)
class CaughtUp:
    """At start, the job's slot passed while the bot was down. ``starting`` catch-up runs
    of other jobs start before this one's (they are spread out)."""

    starting: int = 0


@dataclass(frozen=True, slots=True)
class Deleted:
    pass


@dataclass(frozen=True, slots=True)
class SetAside:
    """The job cannot go on (its next run cannot be computed for a reason no retry fixes)."""

    reason: str


Event = (
    Created
    | Edited
    | Paused
    | Resumed
    | Claimed
    | Finished
    | Recovered
    | CaughtUp
    | Deleted
    | SetAside
)


# ----- effects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove the job's row."""


@dataclass(frozen=True, slots=True)
class Alert:
    """Tell the job's owner."""

    text: str


@dataclass(frozen=True, slots=True)
class RecordMissed:
    """Write these missed slots to the run history."""

    runs: tuple[Run, ...]


@dataclass(frozen=True, slots=True)
class RunsLate:
    """A missed slot runs now, late (it counts among the spread-out catch-up runs)."""


Effect = Delete | Alert | RecordMissed | RunsLate


@dataclass(slots=True)
class Step:
    """The job after an event, and what the caller must do besides saving it."""

    job: Job
    effects: list[Effect] = field(default_factory=list)
    aside: str | None = None
    """Set when the job was set aside: the reason, shown in the status."""

    @property
    def delete(self) -> bool:
        return any(isinstance(e, Delete) for e in self.effects)

    @property
    def alerts(self) -> list[str]:
        return [e.text for e in self.effects if isinstance(e, Alert)]

    @property
    def missed(self) -> list[Run]:
        return [run for e in self.effects if isinstance(e, RecordMissed) for run in e.runs]

    @property
    def runs_late(self) -> bool:
        return any(isinstance(e, RunsLate) for e in self.effects)


# ----- the transition ----------------------------------------------------------------------


def transition(job: Job, event: Event, now: int, cfg: Settings) -> Step:
    """The job after ``event`` at ``now``. ``job`` itself is left as it was."""
    new = copy.copy(job)  # shallow: a rule that changes a nested record copies it first
    match event:
        case Created():
            return _arm(new, now)
        case Edited(rescheduled=rescheduled, enabled=enabled):
            return _edited(new, rescheduled, enabled, now)
        case Paused():
            return _edited(new, False, False, now)
        case Resumed():
            return _edited(new, False, True, now)
        case Claimed(trigger=trigger, run_id=run_id):
            return _claimed(new, trigger, run_id, now)
        case Finished():
            return _finished(new, event, now, cfg)
        case Recovered(delivered=delivered):
            return _recovered(new, delivered, now)
        case CaughtUp(starting=starting):
            return _caught_up(new, starting, now, cfg)
        case Deleted():
            return Step(new, [Delete()])
        case SetAside(reason=reason):
            return _set_aside(new, reason)
    raise TypeError(f"not an event: {event!r}")


def transition_or_set_aside(job: Job, event: Event, now: int, cfg: Settings) -> Step:
    """``transition``, except that a job whose rules fail for any reason (a bug, a row
    edited into a shape the rules never meet) is set aside on its own: SPEC §6 "one job
    never stops the others"."""
    try:
        return transition(job, event, now, cfg)
    except Exception as exc:
        return transition(job, SetAside(f"{type(exc).__name__}: {exc}"), now, cfg)


def set_aside_notice(job_id: str, name: str, reason: str, *, readable: bool = True) -> str:
    """What the owner is told, once, when a job is set aside. A row that can no longer be
    read is left in the database as it is, for an admin to restore or remove."""
    named = f" ({name})" if name else ""
    remedy = (
        f"give it a new schedule with /cron edit {job_id} (that resumes it), or delete it "
        f"with /cron rm {job_id}"
        if readable
        else "its stored row is kept as it is for an admin to restore from a backup"
    )
    return (
        f"Task {job_id}{named} was set aside and will not run: {reason}. The other tasks go "
        f"on; /cron status lists it. To go on, {remedy}."
    )


def is_late(slot_at: int | None, started_at: int) -> bool:
    return slot_at is not None and started_at - slot_at > LATE_AFTER_MS


# ----- created, edited, paused, resumed ----------------------------------------------------


def _arm(job: Job, now: int) -> Step:
    """The first run of a new or rescheduled job."""
    first = job.schedule.at_ms if job.is_one_shot else next_run_after(job.schedule, now)
    job.next_run_at = job.next_slot_at = first
    job.schedule_errors = 0
    job.retries = 0
    return Step(job)


def _edited(job: Job, rescheduled: bool, enabled: bool | None, now: int) -> Step:
    """Editing a field other than the schedule never moves the next run."""
    if rescheduled:
        _arm(job, now)
        job.enabled = True if enabled is None else enabled
    elif enabled is not None and enabled != job.enabled:
        job.enabled = enabled
        if enabled:
            _resume(job, now)
    if not job.enabled:
        job.next_run_at = job.next_slot_at = None
    job.updated_at = now
    return Step(job)


def _resume(job: Job, now: int) -> None:
    """A resumed job runs at its next slot; a one-shot whose time passed runs now."""
    job.consecutive_errors = 0
    job.schedule_errors = 0
    if job.is_one_shot:
        assert job.schedule.at_ms is not None
        job.next_slot_at = job.schedule.at_ms
        job.next_run_at = max(job.schedule.at_ms, now)
        job.retries = 0
    else:
        job.next_run_at = job.next_slot_at = next_run_after(job.schedule, now)


# ----- claimed -----------------------------------------------------------------------------


def _claimed(job: Job, trigger: Trigger, run_id: str, now: int) -> Step:
    """The claim marker goes on. A due job's run (timer or manual) *is* its due run, so a
    manual run and the timer meeting on one slot execute it once; a manual run of a job
    not due stands for no slot."""
    due = job.enabled and job.next_run_at is not None and job.next_run_at <= now
    job.running_run_id = run_id
    job.running_slot_at = job.next_slot_at if trigger == Trigger.SCHEDULE or due else None
    return Step(job)


# ----- finished ----------------------------------------------------------------------------


def _finished(job: Job, event: Finished, now: int, cfg: Settings) -> Step:
    outcome = event.outcome
    delivered = event.delivered or outcome.delivery == Delivery.DELIVERED
    job.running_run_id = job.running_slot_at = None
    job.last_run_at = now
    job.last_status = outcome.status.value
    job.last_error = outcome.error or None
    job.last_delivery = Delivery.DELIVERED.value if delivered else outcome.delivery.value
    job.consecutive_errors = 0 if outcome.ok else job.consecutive_errors + 1
    step = Step(job)
    if event.slot_at is not None:
        if job.is_one_shot:
            step = _after_one_shot(job, outcome, delivered, now)
        else:
            step = _after_recurring(job, event, now)
    elif event.trigger == Trigger.SCHEDULE:  # claimed with no slot: recompute the schedule
        step = _recompute_schedule(job, now)
    if not outcome.ok and not step.alerts:
        alert = _failure_alert(job, outcome, now, cfg)
        if alert:
            step.effects.append(Alert(alert))
    if not job.enabled:  # paused during the run: it stays paused
        job.next_run_at = job.next_slot_at = None
    return step


def _retryable(outcome: Outcome, delivered: bool) -> bool:
    """A one-shot is tried again after a transient failure or a timeout, never after its
    output was delivered (the user would get it twice)."""
    if delivered or outcome.ok:
        return False
    return outcome.transient or outcome.status == RunStatus.TIMEOUT


def _after_one_shot(job: Job, outcome: Outcome, delivered: bool, now: int) -> Step:
    if outcome.ok or delivered:
        job.retries = 0
        return _done(job)
    if _retryable(outcome, delivered) and job.retries < len(RETRY_MS):
        job.next_run_at = now + RETRY_MS[job.retries]
        job.retries += 1
        return Step(job)
    _disable(job)
    return Step(job)


def _done(job: Job) -> Step:
    """A one-shot that ran: deleted, or kept disabled to be seen."""
    if job.delete_after_run:
        return Step(job, [Delete()])
    _disable(job)
    return Step(job)


def _after_recurring(job: Job, event: Finished, now: int) -> Step:
    assert event.slot_at is not None
    slot_at = event.slot_at
    every = job.schedule.kind == ScheduleKind.EVERY and job.catch_up != CatchUp.ALL
    if every and is_late(slot_at, event.started_at):
        # A late run (after downtime or a backoff) re-anchors the interval grid at its
        # start, so the next run keeps the full interval instead of following at once.
        job.schedule = job.schedule.model_copy(update={"anchor_ms": event.started_at})
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
    if not event.outcome.ok and natural is not None:
        backoff = BACKOFF_MS[min(job.consecutive_errors, len(BACKOFF_MS)) - 1]
        job.next_run_at = max(natural, now + backoff)
    return Step(job)


def _recompute_schedule(job: Job, now: int) -> Step:
    """Try again to compute the next run of a job whose schedule failed before."""
    try:
        natural = next_run_after(job.schedule, now)
    except ScheduleError as exc:
        return _schedule_failed(job, now, str(exc))
    job.schedule_errors = 0
    job.next_run_at = job.next_slot_at = natural
    if natural is None:
        _disable(job)
    return Step(job)


def _schedule_failed(job: Job, now: int, reason: str) -> Step:
    job.schedule_errors += 1
    job.last_error = f"schedule error: {reason}"
    if job.schedule_errors >= MAX_SCHEDULE_ERRORS:
        _disable(job)
        return Step(
            job,
            [
                Alert(
                    f"Task {job.id} ({job.display_name}) was disabled: its schedule can no "
                    f"longer be computed ({reason}). Edit its schedule or time zone and "
                    "resume it."
                )
            ],
        )
    job.next_run_at = now + SCHEDULE_RETRY_MS
    job.next_slot_at = None
    return Step(job)


def _disable(job: Job) -> None:
    job.enabled = False
    job.next_run_at = None
    job.next_slot_at = None


def _failure_alert(job: Job, outcome: Outcome, now: int, cfg: Settings) -> str | None:
    if outcome.rate_limited:
        return None
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


# ----- recovered after a crash -------------------------------------------------------------


def _recovered(job: Job, delivered: bool, now: int) -> Step:
    """A run that a crash cut short: recurring jobs go on, a one-shot runs again once
    unless its delivery had been recorded."""
    slot_at = job.running_slot_at
    job.running_run_id = job.running_slot_at = None
    job.last_status = RunStatus.INTERRUPTED.value
    job.last_error = "interrupted: the bot stopped during the run"
    if slot_at is None:
        return Step(job)
    if not job.is_one_shot:
        try:
            job.next_slot_at = job.next_run_at = next_run_after(job.schedule, slot_at)
        except ScheduleError as exc:
            return _schedule_failed(job, now, str(exc))
        return Step(job)
    if delivered:  # the message went out before the crash: the one-shot is done
        job.last_status = RunStatus.OK.value
        return _done(job)
    if job.retries < 1:
        job.retries += 1
        job.next_run_at = now
        job.next_slot_at = slot_at
        return Step(job)
    _disable(job)
    job.last_error = "interrupted twice: disabled; run it again with run now or resume it"
    return Step(
        job,
        [
            Alert(
                f"Task {job.id} ({job.display_name}) was paused: the bot stopped twice while "
                f"it ran, and it was not delivered. Run it now with /cron run {job.id}, or "
                "resume it."
            )
        ],
    )


# ----- caught up after downtime ------------------------------------------------------------


@dataclass(slots=True)
class _CatchUpPlan:
    next_run_at: int | None
    next_slot_at: int | None
    missed: list[Run] = field(default_factory=list)
    runs_now: bool = False  # a missed slot will run (late) right away


def _caught_up(job: Job, starting: int, now: int, cfg: Settings) -> Step:
    """SPEC §6 downtime: the job's ``catch_up`` policy decides what its missed slots do;
    the first few catch-up runs start at once, the rest a few seconds apart."""
    plan = _plan_catch_up(job, now, cfg)
    job.next_run_at, job.next_slot_at = plan.next_run_at, plan.next_slot_at
    effects: list[Effect] = [RecordMissed(tuple(plan.missed))] if plan.missed else []
    if plan.runs_now:
        job.next_run_at = now + startup_delay(starting)
        effects.append(RunsLate())
    elif plan.next_run_at is None:
        job.enabled = False
        job.last_status = RunStatus.MISSED.value
    return Step(job, effects)


def startup_delay(index: int) -> int:
    """The first few catch-up runs start at once, the rest a few seconds apart."""
    if index < STARTUP_BURST:
        return 0
    return min((index // STARTUP_BURST) * STARTUP_SPREAD_MS, STARTUP_SPREAD_MAX_MS)


def _plan_catch_up(job: Job, now: int, cfg: Settings) -> _CatchUpPlan:
    slot = job.next_slot_at if job.next_slot_at is not None else job.next_run_at
    assert slot is not None
    window_start = now - cfg.catch_up_window_ms
    if job.is_one_shot:
        if job.catch_up == CatchUp.SKIP or slot < window_start:
            return _CatchUpPlan(None, None, [_missed(job, slot, now)])
        return _CatchUpPlan(now, slot, runs_now=True)
    try:
        stale = [slot] if slot < window_start else []
        stale += fires_between(job.schedule, slot, window_start - 1, MISSED_ROWS_CAP)
        recent = [slot] if slot >= window_start else []
        recent += _latest_fires(job, max(slot, window_start - 1), now)
        following = next_run_after(job.schedule, now)
    except ScheduleError:
        return _CatchUpPlan(job.next_run_at, job.next_slot_at)  # the run path reports it
    missed = [_missed(job, s, now) for s in stale[-MISSED_ROWS_CAP:]]
    if job.catch_up == CatchUp.SKIP or not recent:
        missed += [_missed(job, s, now) for s in recent[-MISSED_ROWS_CAP:]]
        return _CatchUpPlan(following, following, missed)
    if job.catch_up == CatchUp.ONCE:
        missed += [_missed(job, s, now) for s in recent[:-1][-MISSED_ROWS_CAP:]]
        return _CatchUpPlan(now, recent[-1], missed, runs_now=True)
    kept = recent[-ALL_CATCH_UP_CAP:]
    missed += [_missed(job, s, now) for s in recent[:-ALL_CATCH_UP_CAP][-MISSED_ROWS_CAP:]]
    return _CatchUpPlan(now, kept[0], missed, runs_now=True)


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


# ----- set aside ---------------------------------------------------------------------------


def _set_aside(job: Job, reason: str) -> Step:
    """Disabled with its reason, owner told once (not again while it stays aside)."""
    told = not job.enabled and job.last_error == f"set aside: {reason}"
    job.running_run_id = job.running_slot_at = None
    _disable(job)
    job.last_error = f"set aside: {reason}"
    effects: list[Effect] = [] if told else [Alert(set_aside_notice(job.id, job.name, reason))]
    return Step(job, effects, aside=reason)
