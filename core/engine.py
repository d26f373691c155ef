"""The scheduler: one timer, claim due runs, hand them to an executor, apply outcomes.

The database is the source of truth and the timer only says when to look:

1. ``tick`` claims every due job in batches (``Store.claim_due``): the claim marker and
   an open run row are written *before* anything executes, so a crash mid-run is found
   at the next start and a slot is never executed twice.
2. Each claimed run executes in its own task under a timeout. Reminders and agent runs
   have separate concurrency limits, so a slow agent never delays a plain reminder.
3. Outcomes queue up and the applier writes them in one transaction per batch, using
   the pure ``policy.transition``. Only applying an executed slot moves a job forward.
   Each job is handled on its own: a row that no longer loads, or whose next run cannot
   be computed for any reason, is set aside alone and the rest of the batch goes on.
4. The timer is re-armed on the earliest due job, at least every 60 s, so clock jumps
   and a sleeping host are survived, and never faster than ``_MIN_REARM_MS`` when late.
   It wakes ``CLAIM_AHEAD_MS`` before a due time, claims then, and starts the runs at the
   due time itself: the claim's database round trip no longer makes every fire late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from .clock import Clock, SystemClock
from .errors import StoreError
from .models import Delivery, Job, Mode, Owner, RunStatus, Trigger
from .policy import (
    CaughtUp,
    Finished,
    Outcome,
    Recovered,
    Step,
    is_late,
    set_aside_notice,
    transition_or_set_aside,
)
from .settings import Settings
from .store import JobState, JobWrite, Loaded, RunFinish, Store, Unloadable

_MAX_SLEEP_MS = 60_000
_MIN_REARM_MS = 25
CLAIM_AHEAD_MS = 20
"""How early the timer claims what falls due (it still starts the runs on time)."""
_CLOCK_JUMP_MS = 90_000
_CLAIM_BATCH = 500
_REMINDER_CONCURRENCY = 64
_STOP_GRACE_S = 3.0

log = logging.getLogger("astrbot_plugin_future_tasks.engine")


@dataclass(slots=True)
class RunContext:
    """What an executor knows about the run it performs. ``mark_delivered`` records that
    its output went out, or may have (``delivered`` then holds, and ``delivery`` says
    which: ``delivered``, or ``unknown`` where the platform gives no acknowledgement), so
    nothing after can make it retried."""

    run_id: str
    trigger: Trigger
    slot_at: int | None
    started_at: int
    late: bool
    mark_delivered: Callable[..., None]
    """``mark_delivered(delivery=Delivery.DELIVERED)``."""
    delivered: bool = False
    delivery: Delivery = Delivery.PENDING


class Executor(Protocol):
    async def execute(self, job: Job, run: RunContext) -> Outcome:
        """Perform one run. Raise or return an error Outcome on failure."""


AlertSender = Callable[[Owner, str], Awaitable[None]]
"""Tells a job's owner something (in the chat where they created it)."""


class Engine:
    def __init__(
        self,
        store: Store,
        executor: Executor,
        settings: Settings,
        *,
        clock: Clock | None = None,
        alert: AlertSender | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._alert = alert
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        self._verifier: asyncio.Task[None] | None = None
        self._applier: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._finished: list[tuple[Job, RunContext, Outcome]] = []
        self._delivered: list[tuple[str, Delivery]] = []
        self._apply_ready = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._reminder_slots = asyncio.Semaphore(_REMINDER_CONCURRENCY)
        self._agent_slots = asyncio.Semaphore(max(1, settings.max_concurrent_runs))
        self._running = False
        self._with_timer = True
        self.off_reason: str | None = None
        self.last_error: str | None = None
        self._asleep_until: int | None = None
        """When the sleeping timer wakes by itself; None while it is awake."""
        self._started_at = 0

    # ----- life cycle -------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """Firing: started, and (unless started without one, as tests do) the timer runs."""
        if not self._running:
            return False
        return not self._with_timer or (self._timer is not None and not self._timer.done())

    async def start(self, *, timer: bool = True, skip_cron: bool = False) -> None:
        """Recover, catch up and arm. With the off switch set, nothing fires. It reports
        started only once the timer runs; a database that cannot be used stops it."""
        if not self.settings.enabled or skip_cron:
            self.off_reason = (
                "disabled by FUTURE_TASKS_SKIP_CRON=1" if skip_cron else "disabled in settings"
            )
            return
        self.off_reason = None
        self._started_at = self.clock.now_ms()
        try:
            await self.recover_interrupted()
            await self.catch_up()
        except (sqlite3.DatabaseError, StoreError) as exc:  # a damaged file: never fire on it
            self.off_reason = f"database error: {exc}"
            self.last_error = str(exc)
            raise StoreError(f"the task database cannot be used: {exc}") from exc
        self._applier = asyncio.create_task(self._apply_loop(), name="future-tasks-applier")
        self._with_timer = timer
        if timer:
            self._timer = asyncio.create_task(self._timer_loop(), name="future-tasks-timer")
        self._running = True
        if self.store.integrity_pending:
            self._verifier = asyncio.create_task(self._verify_store(), name="future-tasks-check")

    async def _verify_store(self) -> None:
        """A large database is checked beside the running scheduler; if it fails, firing
        stops at once and the status says why (the file is never repaired or replaced)."""
        try:
            await self.store.check_integrity_aside()
        except StoreError as exc:
            log.error("future tasks: %s", exc)
            self._verifier = None  # this task: stop() must not cancel it under itself
            await self.stop()
            self.off_reason = f"database error: {exc}"
            self.last_error = str(exc)

    async def stop(self) -> None:
        """Stop firing; runs still going after a short grace keep their claim marker and are
        found as interrupted at the next start."""
        self._running = False
        for task in (self._timer, self._verifier):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._timer = self._verifier = None
        if self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=_STOP_GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(StoreError):
            await self.flush()
        if self._applier:
            self._applier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._applier
            self._applier = None

    @property
    def agent_slots(self) -> asyncio.Semaphore:
        """The slots agent runs share (``max_concurrent_runs``); ``/cron wake`` takes them too."""
        return self._agent_slots

    def nudge(self) -> None:
        """Something changed (a job was added or edited): look at the schedule again."""
        self._wake.set()

    # ----- recovery and catch-up --------------------------------------------------------

    async def recover_interrupted(self) -> int:
        """Runs whose claim marker survived a crash: record them as interrupted."""
        loaded = await self.store.claimed_jobs()
        now = self.clock.now_ms()
        finishes, writes, alerts = [], [], []
        for job in loaded.jobs:
            run_id = job.running_run_id or ""
            mark = await self.store.run_delivery_mark(run_id)
            step = transition_or_set_aside(job, Recovered(mark is not None), now, self.settings)
            finishes.append(_interrupted(run_id, now, mark == Delivery.DELIVERED))
            writes.append(_write_of(step, job.version, run_id))
            alerts += _alerts_of(step)
        finishes += [_interrupted(b.running_run_id or "", now, False) for b in loaded.broken]
        async with self.store.transaction() as db:
            await self.store.finish_runs(db, finishes)
            conflicts = await self.store.write_jobs(db, writes + _asides(loaded))
        self._after_write(conflicts, alerts, loaded.broken)
        return len(loaded.jobs) + len(loaded.broken)

    async def catch_up(self) -> int:
        """Apply each overdue job's catch-up policy; spread the runs that start now."""
        now = self.clock.now_ms()
        starting = 0
        after: tuple[int, str] | None = (-(2**62), "")
        while after is not None:
            loaded, after = await self.store.overdue_jobs(now, after)
            missed, writes, alerts = [], [], []
            for job in loaded.jobs:
                step = transition_or_set_aside(job, CaughtUp(starting), now, self.settings)
                starting += step.runs_late
                missed += step.missed
                writes.append(_write_of(step, job.version, None))
                alerts += _alerts_of(step)
            async with self.store.transaction() as db:
                await self.store.add_runs(missed, db)
                conflicts = await self.store.write_jobs(db, writes + _asides(loaded))
            self._after_write(conflicts, alerts, loaded.broken)
        self.nudge()
        return starting

    def _after_write(
        self, conflicts: set[str], alerts: list[tuple[Owner, str]], broken: list[Unloadable]
    ) -> None:
        """Send what a write owes the owners; a conflict means the job changed meanwhile
        (its own writer saw it first), so this step is dropped and says so in the log."""
        for job_id in conflicts:
            log.warning("future tasks: task %s changed meanwhile; left as it is", job_id)
        for owner, text in alerts:
            self._send_alert(owner, text)
        for row in broken:
            log.error("future tasks: task %s set aside: %s", row.job_id, row.reason)
            self._send_alert(
                Owner(origin=row.origin, sender_id=""),  # unknown: read as a member
                set_aside_notice(row.job_id, "", row.reason, readable=False),
            )

    # ----- firing -----------------------------------------------------------------------

    async def tick(self) -> int:
        """Claim and start every run that is due now; returns how many started."""
        if not self.started:
            return 0
        now = self.clock.now_ms()
        started = 0
        while True:
            loaded = await self.store.claim_due(now, _CLAIM_BATCH)
            self._after_write(set(), [], loaded.broken)
            for job in loaded.jobs:
                self._dispatch(job, Trigger.SCHEDULE, now)
            started += len(loaded.jobs)
            if len(loaded.jobs) + len(loaded.broken) < _CLAIM_BATCH:
                return started

    async def run_now(self, job_id: str) -> str | None:
        """Start a manual run; the run id, or None when the job is already running."""
        now = self.clock.now_ms()
        job = await self.store.claim_job(job_id, now, Trigger.MANUAL)
        if job is None:
            return None
        if not self._applier:
            self._applier = asyncio.create_task(self._apply_loop(), name="future-tasks-applier")
        self._dispatch(job, Trigger.MANUAL, now)
        return job.running_run_id

    def _dispatch(self, job: Job, trigger: Trigger, now: int) -> None:
        ctx = RunContext(
            run_id=job.running_run_id or "",
            trigger=trigger,
            slot_at=job.running_slot_at,
            started_at=now,
            late=self._is_late(job.running_slot_at, now),
            mark_delivered=lambda delivery=Delivery.DELIVERED: self._note_delivered(ctx, delivery),
        )
        task = asyncio.create_task(self._execute(job, ctx), name=f"future-task-{ctx.run_id}")
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _execute(self, job: Job, ctx: RunContext) -> None:
        if ctx.trigger == Trigger.SCHEDULE and ctx.slot_at is None:
            outcome = Outcome(RunStatus.ERROR, error="schedule could not be computed")
        else:
            outcome = await self._perform(job, ctx)
        self._finished.append((job, ctx, outcome))
        self._apply_ready.set()

    async def _perform(self, job: Job, ctx: RunContext) -> Outcome:
        reminder = job.payload.mode == Mode.REMINDER
        slots = self._reminder_slots if reminder else self._agent_slots
        timeout = job.payload.timeout_seconds or (
            self.settings.reminder_timeout_seconds
            if reminder
            else self.settings.agent_timeout_seconds
        )
        async with slots:
            try:
                return await asyncio.wait_for(self.executor.execute(job, ctx), timeout)
            except TimeoutError:
                return Outcome(RunStatus.TIMEOUT, Delivery.NOT_DELIVERED,
                               error=f"timed out after {timeout} s")  # fmt: skip
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an executor bug must not kill the scheduler
                log.exception("task %s failed", job.id)
                return Outcome(RunStatus.ERROR, Delivery.NOT_DELIVERED,
                               error=f"{type(exc).__name__}: {exc}")  # fmt: skip

    def _is_late(self, slot_at: int | None, now: int) -> bool:
        """Late: well after its slot, or a slot that passed while the bot was down."""
        return is_late(slot_at, now) or (slot_at is not None and slot_at < self._started_at)

    def _note_delivered(self, ctx: RunContext, delivery: Delivery) -> None:
        ctx.delivered = True
        if ctx.delivery != Delivery.DELIVERED:  # one acknowledged send makes it delivered
            ctx.delivery = delivery
        self._delivered.append((ctx.run_id, ctx.delivery))
        self._apply_ready.set()

    # ----- applying outcomes ------------------------------------------------------------

    async def _apply_loop(self) -> None:
        while True:
            await self._apply_ready.wait()
            self._apply_ready.clear()
            try:
                await self.flush()
            except Exception as exc:  # keep the loop alive; the outcomes stay queued
                self.last_error = f"could not record run results: {exc}"
                log.exception("future tasks: applying outcomes failed")
                await asyncio.sleep(1)
                self._apply_ready.set()

    async def flush(self) -> None:
        """Write every finished run and delivery mark collected so far, in one transaction."""
        async with self._flush_lock:
            batch, self._finished = self._finished, []
            delivered, self._delivered = self._delivered, []
            if not batch and not delivered:
                return
            try:
                earliest = await self._apply(batch, delivered)
            except BaseException:
                self._finished[:0] = batch
                self._delivered[:0] = delivered
                raise
        asleep_until = self._asleep_until
        if earliest is not None and (asleep_until is None or earliest < asleep_until):
            self.nudge()  # a job is due before the timer would look again

    async def _apply(
        self, batch: list[tuple[Job, RunContext, Outcome]], delivered: list[tuple[str, Delivery]]
    ) -> int | None:
        """One transaction for the delivery marks and the finished runs; returns the
        earliest next run among the jobs it saved."""
        now = self.clock.now_ms()
        finishing = {ctx.run_id for _, ctx, _ in batch}
        # A run finishing here gets its delivery from its outcome; only runs still going
        # (an agent that has sent a message and works on) need the mark of their own.
        marks = [(run_id, d) for run_id, d in delivered if run_id not in finishing]
        async with self.store.transaction() as db:
            if marks:
                await self.store.mark_delivered(marks, db)
            if not batch:
                return None
            states = await self.store.job_states([job.id for job, _, _ in batch], db)
            # Only jobs written while they ran (an edit) are read again.
            changed = [
                j.id for j, ctx, _ in batch
                if (st := states.get(j.id)) and st.running_run_id == ctx.run_id
                and st.version != j.version
            ]  # fmt: skip
            fresh = await self.store.get_jobs(changed, db) if changed else Loaded([], [])
            steps = self._steps(batch, states, fresh, now)
            await self.store.finish_runs(db, steps.finishes)
            conflicts = await self.store.write_jobs(db, steps.writes + _asides(fresh), states)
            await self.store.prune_runs(db, states.keys(), self.settings.run_history_keep)
        self._after_write(conflicts, steps.alerts, fresh.broken)
        return min(steps.upcoming, default=None)

    def _steps(
        self,
        batch: list[tuple[Job, RunContext, Outcome]],
        states: dict[str, JobState],
        fresh: Loaded,
        now: int,
    ) -> _Applied:
        """Each finished run through the transition, one job at a time."""
        applied = _Applied()
        latest = {job.id: job for job in fresh.jobs}
        unloadable = {row.job_id for row in fresh.broken}
        for claimed, ctx, outcome in batch:
            delivery = _final_delivery(ctx, outcome)
            finish = RunFinish(ctx.run_id, now, outcome.status.value, delivery.value,
                               outcome.output, outcome.error, ctx.late)  # fmt: skip
            applied.finishes.append(finish)
            state = states.get(claimed.id)
            if state is None or state.running_run_id != ctx.run_id:
                finish.error = (finish.error + " (the task was deleted during the run)").strip()
                continue
            if claimed.id in unloadable:
                continue
            job = latest.get(claimed.id, claimed)
            event = Finished(ctx.slot_at, ctx.trigger, ctx.started_at, outcome, ctx.delivered)
            step = transition_or_set_aside(job, event, now, self.settings)
            applied.writes.append(_write_of(step, state.version, ctx.run_id))
            applied.alerts += _alerts_of(step)
            if not step.delete and step.job.enabled and step.job.next_run_at is not None:
                applied.upcoming.append(step.job.next_run_at)
        return applied

    def _send_alert(self, owner: Owner, text: str) -> None:
        if self._alert is None:
            return
        task = asyncio.create_task(self._alert(owner, text), name="future-task-alert")
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def drain(self) -> None:
        """Wait until every run started so far has finished and been recorded (for tests
        and for an orderly stop)."""
        # The applier may be writing a batch it took (the lock is held): wait for it too.
        while self._in_flight or self._finished or self._delivered or self._flush_lock.locked():
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)
            await self.flush()
            await asyncio.sleep(0)  # let finished tasks' done-callbacks leave _in_flight

    # ----- the timer --------------------------------------------------------------------

    async def _fire_on_time(self, due: int) -> None:
        """Claim what falls due at ``due`` now, a few ms early, and start it at ``due``.

        Even a stop during the wait starts what was claimed, at its time: a claim that
        never ran would be found as interrupted and, for a recurring job, lose its slot.
        """
        loaded = await self.store.claim_due(due, _CLAIM_BATCH)
        self._after_write(set(), [], loaded.broken)
        jobs = loaded.jobs
        try:
            await self._sleep_until(due)
        except asyncio.CancelledError:
            await self._sleep_until(due)
            raise
        finally:
            now = self.clock.now_ms()
            for job in jobs:
                self._dispatch(job, Trigger.SCHEDULE, now)

    async def _sleep_until(self, at: int) -> None:
        """Sleep until ``at`` on the engine's clock; no nudge cuts it short."""
        remaining = at - self.clock.now_ms()
        if remaining > 0:
            await self.clock.wait(asyncio.Event(), remaining)

    async def _timer_loop(self) -> None:
        while True:
            self._wake.clear()
            delay = _MAX_SLEEP_MS
            try:
                ticked_at = self.clock.now_ms()
                await self.tick()
                due = await self.store.next_due_at()
                now = self.clock.now_ms()
                if due is not None:
                    ahead = due - now
                    if 0 < ahead <= CLAIM_AHEAD_MS:
                        await self._fire_on_time(due)
                        continue
                    # A job due before the tick yet unclaimed gets a short floor (never a hot
                    # loop); one that fell due during the tick is claimed right away.
                    floor = _MIN_REARM_MS if due <= ticked_at else 0
                    delay = min(max(ahead - CLAIM_AHEAD_MS, floor), _MAX_SLEEP_MS)
                if self.last_error and self.last_error.startswith("timer:"):
                    self.last_error = None
            except Exception as exc:
                self.last_error = f"timer: {exc}"
                log.exception("future tasks: the timer failed; retrying in 1 s")
                delay = 1000
            expected = self.clock.now_ms() + delay
            self._asleep_until = expected
            try:
                await self.clock.wait(self._wake, delay)
            finally:
                self._asleep_until = None
            if self.clock.now_ms() - expected > _CLOCK_JUMP_MS:
                with contextlib.suppress(Exception):
                    await self.catch_up()  # the host slept or the clock jumped forward


@dataclass(slots=True)
class _Applied:
    """A batch of finished runs through the transition: what to write and to send."""

    finishes: list[RunFinish] = field(default_factory=list)
    writes: list[JobWrite] = field(default_factory=list)
    alerts: list[tuple[Owner, str]] = field(default_factory=list)
    upcoming: list[int] = field(default_factory=list)


def _write_of(step: Step, version: int, release: str | None) -> JobWrite:
    """The checked write that stores ``step`` over the row read at ``version``."""
    job = step.job
    if step.delete:
        return JobWrite(job.id, version, delete=True, release=release)
    return JobWrite(job.id, version, job=job, aside=step.aside, release=release)


def _alerts_of(step: Step) -> list[tuple[Owner, str]]:
    return [(step.job.owner, text) for text in step.alerts]


def _asides(loaded: Loaded) -> list[JobWrite]:
    return [row.set_aside() for row in loaded.broken]


def _final_delivery(ctx: RunContext, outcome: Outcome) -> Delivery:
    """What the run row says: a delivery marked while it ran stands (an acknowledged one
    over an unacknowledged one), whatever the outcome says after."""
    if not ctx.delivered:
        return outcome.delivery
    if Delivery.DELIVERED in (ctx.delivery, outcome.delivery):
        return Delivery.DELIVERED
    return Delivery.UNKNOWN


def _interrupted(run_id: str, now: int, delivered: bool) -> RunFinish:
    delivery = Delivery.DELIVERED if delivered else Delivery.UNKNOWN
    return RunFinish(run_id, now, RunStatus.INTERRUPTED.value, delivery.value, "",
                     "interrupted: the bot stopped during the run")  # fmt: skip
