"""The scheduler: one timer, claim due runs, hand them to an executor, apply outcomes.

The database is the source of truth and the timer only says when to look:

1. ``tick`` claims every due job in batches (``Store.claim_due``): the claim marker and
   an open run row are written *before* anything executes, so a crash mid-run is found
   at the next start and a slot is never executed twice.
2. Each claimed run executes in its own task under a timeout. Reminders and agent runs
   have separate concurrency limits, so a slow agent never delays a plain reminder.
3. Outcomes queue up and the applier writes them in one transaction per batch, using
   the pure rules of ``policy``. Only applying an executed slot moves a job forward.
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
from dataclasses import dataclass
from typing import Protocol

from .clock import Clock, SystemClock
from .errors import StoreError
from .models import Delivery, Job, Mode, RunStatus, Trigger
from .policy import (
    Decision,
    Outcome,
    RunInfo,
    apply_outcome,
    is_late,
    plan_catch_up,
    recover_interrupted,
)
from .settings import Settings
from .store import RunFinish, Store

_MAX_SLEEP_MS = 60_000
_MIN_REARM_MS = 25
CLAIM_AHEAD_MS = 20
"""How early the timer claims what falls due (it still starts the runs on time)."""
_CLOCK_JUMP_MS = 90_000
_CLAIM_BATCH = 500
_REMINDER_CONCURRENCY = 64
_STARTUP_BURST = 5
_STARTUP_SPREAD_MS = 2_000
_STARTUP_SPREAD_MAX_MS = 120_000
_STOP_GRACE_S = 3.0

log = logging.getLogger("astrbot_plugin_future_tasks.engine")


@dataclass(slots=True)
class RunContext:
    """What an executor knows about the run it performs."""

    run_id: str
    trigger: Trigger
    slot_at: int | None
    started_at: int
    late: bool
    mark_delivered: Callable[[], None]


class Executor(Protocol):
    async def execute(self, job: Job, run: RunContext) -> Outcome:
        """Perform one run. Raise or return an error Outcome on failure."""


AlertSender = Callable[[Job, str], Awaitable[None]]


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
        self._delivered: list[str] = []
        self._apply_ready = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._reminder_slots = asyncio.Semaphore(_REMINDER_CONCURRENCY)
        self._agent_slots = asyncio.Semaphore(max(1, settings.max_concurrent_runs))
        self.started = False
        self.off_reason: str | None = None
        self.last_error: str | None = None
        self.next_wake_at: int | None = None
        self._asleep_until: int | None = None
        """When the sleeping timer wakes by itself; None while it is awake."""
        self._started_at = 0

    # ----- life cycle -------------------------------------------------------------------

    async def start(self, *, timer: bool = True, skip_cron: bool = False) -> None:
        """Recover, catch up and arm. With the off switch set, nothing fires."""
        if not self.settings.enabled or skip_cron:
            self.off_reason = (
                "disabled by FUTURE_TASKS_SKIP_CRON=1" if skip_cron else "disabled in settings"
            )
            return
        self.off_reason = None
        self.started = True
        self._started_at = self.clock.now_ms()
        try:
            await self.recover_interrupted()
            await self.catch_up()
        except (sqlite3.DatabaseError, StoreError) as exc:  # a damaged file: never fire on it
            self.started = False
            self.off_reason = f"database error: {exc}"
            self.last_error = str(exc)
            raise StoreError(f"the task database cannot be used: {exc}") from exc
        self._applier = asyncio.create_task(self._apply_loop(), name="future-tasks-applier")
        if timer:
            self._timer = asyncio.create_task(self._timer_loop(), name="future-tasks-timer")
        if self.store.integrity_pending:
            self._verifier = asyncio.create_task(self._verify_store(), name="future-tasks-check")

    async def _verify_store(self) -> None:
        """A large database is checked beside the running scheduler; if it fails, firing
        stops at once and the status says why (the file is never repaired or replaced)."""
        try:
            await self.store.check_integrity_aside()
        except StoreError as exc:
            log.error("future tasks: %s", exc)
            await self.stop()
            self.off_reason = f"database error: {exc}"
            self.last_error = str(exc)

    async def stop(self) -> None:
        """Stop firing; runs still going after a short grace keep their claim marker and are
        found as interrupted at the next start."""
        self.started = False
        for task in (self._timer,):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._timer = None
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
        stale = await self.store.claimed_jobs()
        now = self.clock.now_ms()
        for job in stale:
            run_id = job.running_run_id or ""
            delivered = await self.store.run_delivered(run_id)
            decision = recover_interrupted(job, delivered, now)
            finish = RunFinish(
                run_id, now, RunStatus.INTERRUPTED.value,
                Delivery.DELIVERED.value if delivered else Delivery.UNKNOWN.value,
                "", "interrupted: the bot stopped during the run",
            )  # fmt: skip
            await self._write([(finish, decision, run_id, job.id)])
        return len(stale)

    async def catch_up(self) -> int:
        """Apply each overdue job's catch-up policy; spread the runs that start now."""
        now = self.clock.now_ms()
        starting = 0
        after: tuple[int, str] = (-(2**62), "")
        while page := await self.store.overdue_jobs(now, after):
            after = (page[-1].next_run_at or 0, page[-1].id)
            missed = []
            for job in page:
                plan = plan_catch_up(job, now, self.settings)
                job.next_run_at, job.next_slot_at = plan.next_run_at, plan.next_slot_at
                if plan.runs_now:
                    job.next_run_at = now + self._startup_delay(starting)
                    starting += 1
                elif plan.next_run_at is None:
                    job.enabled = False
                    job.last_status = RunStatus.MISSED.value
                missed += plan.missed
            async with self.store.transaction() as db:
                await self.store.add_runs(missed, db)
                await self.store.save_jobs(page, db)
        self.nudge()
        return starting

    @staticmethod
    def _startup_delay(index: int) -> int:
        """The first few catch-up runs start at once, the rest a few seconds apart."""
        if index < _STARTUP_BURST:
            return 0
        return min((index // _STARTUP_BURST) * _STARTUP_SPREAD_MS, _STARTUP_SPREAD_MAX_MS)

    # ----- firing -----------------------------------------------------------------------

    async def tick(self) -> int:
        """Claim and start every run that is due now; returns how many started."""
        if not self.started:
            return 0
        now = self.clock.now_ms()
        started = 0
        while True:
            jobs = await self.store.claim_due(now, _CLAIM_BATCH)
            for job in jobs:
                self._dispatch(job, Trigger.SCHEDULE, now)
            started += len(jobs)
            if len(jobs) < _CLAIM_BATCH:
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
        run_id = job.running_run_id or ""
        ctx = RunContext(
            run_id=run_id,
            trigger=trigger,
            slot_at=job.running_slot_at,
            started_at=now,
            late=self._is_late(job.running_slot_at, now),
            mark_delivered=lambda: self._note_delivered(run_id),
        )
        task = asyncio.create_task(self._execute(job, ctx), name=f"future-task-{run_id}")
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
                               error=f"timed out after {timeout} s", transient=True)  # fmt: skip
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an executor bug must not kill the scheduler
                log.exception("task %s failed", job.id)
                return Outcome(RunStatus.ERROR, Delivery.NOT_DELIVERED,
                               error=f"{type(exc).__name__}: {exc}")  # fmt: skip

    def _is_late(self, slot_at: int | None, now: int) -> bool:
        """Late: well after its slot, or a slot that passed while the bot was down."""
        return is_late(slot_at, now) or (slot_at is not None and slot_at < self._started_at)

    def _note_delivered(self, run_id: str) -> None:
        self._delivered.append(run_id)
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
        self, batch: list[tuple[Job, RunContext, Outcome]], delivered: list[str]
    ) -> int | None:
        """One transaction for the delivery marks and the finished runs; returns the
        earliest next run among the jobs it saved."""
        now = self.clock.now_ms()
        alerts: list[tuple[Job, str]] = []
        finishing = {ctx.run_id for _, ctx, _ in batch}
        # A run finishing here gets its delivery from its outcome; only runs still going
        # (an agent that has sent a message and works on) need the mark of their own.
        marks = [run_id for run_id in delivered if run_id not in finishing]
        async with self.store.transaction() as db:
            if marks:
                await self.store.mark_delivered(marks, db)
            if not batch:
                return None
            states = await self.store.claim_states([job.id for job, _, _ in batch], db)
            # Only jobs edited while they ran are read again; the rest are as claimed.
            edited = [
                j.id for j, _, _ in batch if j.id in states and states[j.id][1] != j.updated_at
            ]
            fresh = await self.store.get_jobs(edited, db) if edited else {}
            finishes, saved, deleted = [], [], []
            for claimed, ctx, outcome in batch:
                finish = RunFinish(ctx.run_id, now, outcome.status.value, outcome.delivery.value,
                                   outcome.output, outcome.error, ctx.late)  # fmt: skip
                finishes.append(finish)
                state = states.get(claimed.id)
                if state is None or state[0] != ctx.run_id:
                    finish.error = (finish.error + " (the task was deleted during the run)").strip()
                    continue
                job = fresh.get(claimed.id, claimed)
                info = RunInfo(ctx.slot_at, ctx.trigger, ctx.started_at)
                decision = apply_outcome(job, info, outcome, now, self.settings)
                if decision.delete:
                    deleted.append((job.id, ctx.run_id))
                else:
                    saved.append((decision.job, ctx.run_id))
                if decision.alert:
                    alerts.append((decision.job, decision.alert))
            await self.store.finish_runs(db, finishes, saved, deleted)
            await self.store.prune_runs(db, states.keys(), self.settings.run_history_keep)
        for job, text in alerts:
            self._send_alert(job, text)
        upcoming = [job.next_run_at for job, _ in saved if job.enabled and job.next_run_at]
        return min(upcoming, default=None)

    async def _write(self, items: list[tuple[RunFinish, Decision, str, str]]) -> None:
        """Record recovered runs: finish the run row and save or delete the job."""
        async with self.store.transaction() as db:
            saved = [(d.job, run_id) for _, d, run_id, _ in items if not d.delete]
            deleted = [(job_id, run_id) for _, d, run_id, job_id in items if d.delete]
            await self.store.finish_runs(db, [f for f, *_ in items], saved, deleted)
        for _, decision, _, _ in items:
            if decision.alert:
                self._send_alert(decision.job, decision.alert)

    def _send_alert(self, job: Job, text: str) -> None:
        if self._alert is None:
            return
        task = asyncio.create_task(self._alert(job, text), name=f"future-task-alert-{job.id}")
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
        jobs = await self.store.claim_due(due, _CLAIM_BATCH)
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
                self.next_wake_at = due
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
