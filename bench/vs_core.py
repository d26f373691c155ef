"""AstrBot 4.29's built-in scheduler next to this plugin's engine, on the same workload.

A benchmark, not a test: it prints figures. Run from the repository root::

    .venv/bin/python -m bench.vs_core                 # full run (about 5 minutes)
    .venv/bin/python -m bench.vs_core --quick         # smaller run, under about 2 minutes
    .venv/bin/python -m bench.vs_core --json out.json # also write the figures as JSON

The two sides:

* **core**: the real ``astrbot.core.cron.manager.CronJobManager`` (APScheduler's
  ``AsyncIOScheduler``, misfire grace 300 s, coalesce on) over a real AstrBot core database
  (``astrbot.core.db.sqlite.SQLiteDatabase``: sqlmodel + aiosqlite) on a temp file. Jobs are
  ``active_agent`` rows as AstrBot's ``future_task`` tool writes them (one-shots: ``run_once``
  with ``payload.run_at``; recurring: a cron expression). The only stubs: the star ``Context``
  (``start()`` just keeps it) and ``_woke_main_agent``, the hand-over to the LLM agent, which
  here records the wall time instead of building an agent. Everything before it runs for real:
  APScheduler's trigger and misfire check, ``_run_job``'s row read and ``status=running``
  write, and after it the result write and the one-shot's deletion.
* **plugin**: ``core.engine.Engine`` over ``core.store.Store`` with ``bench.engine``'s
  ``InstantExecutor`` (the executor call is the hand-over; it succeeds at once).

Each side of each scenario runs in a fresh child process (this module with a hidden flag), so
memory figures are clean. Both children import AstrBot *and* the plugin before their memory
baseline, as both live in an AstrBot process in production. Scenarios:

1. **fire lateness**: N one-shot reminders due at random instants over a window, real clock;
   lateness = hand-over wall time minus due time. CPU per fire = process CPU time (all
   threads) from just before the first due time until every fire and its bookkeeping is done,
   divided by the fires.
2. **stored jobs**: 10 000 / 100 000 daily cron jobs, next fire 1-23 h away, stored in each
   side's database; start time and memory (VmRSS / VmHWM) of a fresh process that starts the
   scheduler on them. The core loads every job into APScheduler (and writes each job's
   ``next_run_time`` back in a fire-and-forget task); the plugin keeps them in SQLite.
3. **10-minute downtime**: one-shots and daily crons whose due times fell in the last 10
   minutes are written into each side's database as the running scheduler would have left
   them, then the scheduler starts and deliveries are counted for a fixed wait.

Every scenario checks its own bookkeeping (each job fired at most once, fires counted against
the database afterwards), so a figure cannot come from skipped work.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from bench.engine import (
    MINUTE_MS,
    ArmWatchClock,
    BenchFailure,
    InstantExecutor,
    JobRow,
    banner,
    body_template,
    check,
    heading,
    insert_rows,
    job_row,
    load_average,
    mib,
    ms,
    percentile,
    proc_status_kib,
    say,
    scalar,
)
from core.engine import Engine, RunContext
from core.models import Job, ScheduleKind
from core.policy import Outcome
from core.settings import Settings
from core.store import Store

if TYPE_CHECKING:
    from astrbot.core.cron.manager import CronJobManager
    from astrbot.core.db.sqlite import SQLiteDatabase

ROOT = Path(__file__).resolve().parent.parent
DOWNTIME_MS = 10 * MINUTE_MS
CORE_GRACE_S = 300  # CronJobManager._schedule_job: misfire_grace_time=300
SIDES = ("core", "plugin")
SCENARIOS = ("lateness", "memory", "downtime")

# ----- plans -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """How big each scenario is; ``FULL`` is the reported run, ``QUICK`` a smoke run."""

    name: str
    reminders: int  # scenario 1: one-shots ...
    span_ms: int  # ... due at random instants over this window
    lead_ms: int  # the first is due this long after the child started writing them
    stored: tuple[int, ...]  # scenario 2: stored job counts (0: an empty scheduler)
    settle_cap_s: float  # scenario 2: how long to wait for start-up's background work
    missed_one_shots: int  # scenario 3: one-shots due during the downtime
    missed_recurring: int  # scenario 3: daily crons whose slot fell in the downtime
    downtime_wait_s: float  # scenario 3: how long deliveries are counted after start


FULL = Plan(
    name="full",
    reminders=1_000,
    span_ms=20_000,
    lead_ms=8_000,
    stored=(0, 10_000, 100_000),
    settle_cap_s=120,
    missed_one_shots=40,
    missed_recurring=20,
    downtime_wait_s=30,
)

QUICK = Plan(
    name="quick",
    reminders=300,
    span_ms=8_000,
    lead_ms=4_000,
    stored=(5_000,),
    settle_cap_s=60,
    missed_one_shots=16,
    missed_recurring=8,
    downtime_wait_s=12,
)

PLANS = {plan.name: plan for plan in (FULL, QUICK)}


# ----- small helpers -----------------------------------------------------------------------


def now_ms() -> int:
    """Wall-clock milliseconds (both schedulers fire on the wall clock)."""
    return time.time_ns() // 1_000_000


def memory_kib() -> dict[str, int]:
    """This process's resident set now and its high-water mark (VmHWM: clean per process
    image, unlike ``ru_maxrss``, which Linux carries over fork + exec)."""
    return {"rss_kib": proc_status_kib("VmRSS"), "hwm_kib": proc_status_kib("VmHWM")}


def lateness_stats(values: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 / max / mean of lateness values in ms."""
    ordered = sorted(values)
    return {
        "p50_ms": percentile(ordered, 0.50),
        "p90_ms": percentile(ordered, 0.90),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": ordered[-1] if ordered else math.nan,
        "mean_ms": statistics.fmean(ordered) if ordered else math.nan,
    }


def daily_expr(slot_ms: int) -> str:
    """The daily cron expression (UTC) that fires at ``slot_ms``'s minute."""
    wall = datetime.fromtimestamp(slot_ms / 1000, UTC)
    return f"{wall.minute} {wall.hour} * * *"


def sa_timestamp(at: datetime) -> str:
    """A UTC instant as SQLAlchemy stores a naive ``DateTime`` in SQLite (sortable text)."""
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass(slots=True)
class TaskErrors:
    """Exceptions of tasks nobody awaited (the core's fire-and-forget DB writes), counted by
    type instead of logged: a figure must not hide failed work, and 100 000 logged
    tracebacks would cost more than the work measured."""

    counts: Counter[str] = field(default_factory=Counter)

    def install(self) -> None:
        """Become the running loop's exception handler."""
        asyncio.get_running_loop().set_exception_handler(self._handle)

    def _handle(self, _loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        self.counts[type(exc).__name__ if exc else context.get("message", "?")] += 1


async def settle(cap_s: float, what: str) -> None:
    """Wait for every other task (job runs, background writes); a figure taken while work
    is still queued would flatter the side that queued it."""
    pending = await other_tasks_done(cap_s)
    check(pending == 0, f"{what}: {pending} tasks still running after {cap_s:g} s")


async def other_tasks_done(cap_s: float, poll_s: float = 0.05) -> int:
    """Wait until this is the only task left (every fire-and-forget write and job run has
    finished) or ``cap_s`` passed; returns how many tasks were still pending."""
    me = asyncio.current_task()
    deadline = time.monotonic() + cap_s
    while True:
        pending = sum(1 for task in asyncio.all_tasks() if task is not me)
        if pending == 0 or time.monotonic() >= deadline:
            return pending
        await asyncio.sleep(poll_s)


@dataclass(frozen=True, slots=True)
class Window:
    """CPU and wall time of a firing window."""

    cpu_s: float
    wall_s: float


async def firing_window(
    first_due_ms: int,
    done: Callable[[], bool],
    deadline_ms: int,
    settle: Callable[[], Awaitable[object]],
) -> Window:
    """CPU and wall time from just before the first due time until every fire happened and
    its bookkeeping is written: what firing costs, not what writing the jobs cost."""
    await asyncio.sleep(max(0.0, (first_due_ms - 100 - now_ms()) / 1000))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while not done() and now_ms() < deadline_ms:
        await asyncio.sleep(0.05)
    await settle()
    return Window(time.process_time() - cpu0, time.perf_counter() - wall0)


def check_once_each(fired: Sequence[str], expected: set[str], what: str) -> Counter[str]:
    """Every fire is of a job we wrote, and no job fired twice."""
    counts = Counter(fired)
    check(set(counts) <= expected, f"{what}: a job fired that was never written")
    check(all(n == 1 for n in counts.values()), f"{what}: some job fired more than once")
    return counts


# ----- workloads (the same for both sides) -------------------------------------------------


def reminder_dues(plan: Plan, base_ms: int) -> dict[str, int]:
    """Scenario 1: job id -> due instant, at random over ``plan.span_ms`` from ``base_ms``."""
    rng = random.Random(1)
    offsets = sorted(rng.randrange(plan.span_ms) for _ in range(plan.reminders))
    return {f"late-{i:06d}": base_ms + offset for i, offset in enumerate(offsets)}


def stored_slots(size: int, at_ms: int) -> dict[str, int]:
    """Scenario 2: job id -> next daily slot, a whole minute 1-23 h after ``at_ms`` (each
    user's own daily reminder time), so nothing fires while the start-up is measured."""
    rng = random.Random(size)
    minute = at_ms // MINUTE_MS * MINUTE_MS + MINUTE_MS
    return {f"job-{i:07d}": minute + rng.randrange(60, 23 * 60) * MINUTE_MS for i in range(size)}


@dataclass(frozen=True, slots=True)
class Missed:
    """Scenario 3: what fell due while the bot was down (job id -> due instant)."""

    one_shots: dict[str, int]
    recurring: dict[str, int]

    @property
    def all_ids(self) -> set[str]:
        return set(self.one_shots) | set(self.recurring)


def missed_during_downtime(plan: Plan, start_ms: int) -> Missed:
    """One-shots due at random in the 10 minutes before ``start_ms``; daily crons on the
    whole minutes 1-9 minutes before it (the run they owed is the one in the downtime)."""
    rng = random.Random(7)
    one_shots = {
        f"once-{i:04d}": start_ms - rng.randrange(1_000, DOWNTIME_MS)
        for i in range(plan.missed_one_shots)
    }
    minute = start_ms // MINUTE_MS * MINUTE_MS
    recurring = {
        f"daily-{i:04d}": minute - (1 + i % 9) * MINUTE_MS for i in range(plan.missed_recurring)
    }
    return Missed(one_shots, recurring)


# ----- the plugin side ---------------------------------------------------------------------

_ONE_SHOT = body_template(ScheduleKind.AT, delete_after_run=True)
_DAILY = body_template(ScheduleKind.CRON)  # zone UTC, like the core rows


def plugin_rows(one_shots: dict[str, int], daily: dict[str, int], created_ms: int) -> list[JobRow]:
    """Plugin job rows as its store keeps them: a one-shot reminder per due instant, a daily
    cron reminder per slot (``next_run_at`` = that slot)."""
    rows = [
        job_row(_ONE_SHOT, i, k % 10_000, due, created_ms)
        for k, (i, due) in enumerate(one_shots.items())
    ]
    rows += [
        job_row(_DAILY, i, k % 10_000, slot, created_ms, daily_expr(slot))
        for k, (i, slot) in enumerate(daily.items())
    ]
    return rows


async def write_plugin_jobs(path: Path, rows: Sequence[JobRow]) -> None:
    """Create the plugin's database (its own migrations) and bulk-insert the rows."""
    store = Store(path)
    await store.open()
    try:
        await insert_rows(store, rows)
    finally:
        await store.close()


@dataclass
class LateNotingExecutor(InstantExecutor):
    """``InstantExecutor`` that also notes whether the engine marked each run as late."""

    late: dict[str, bool] = field(default_factory=dict)

    async def execute(self, job: Job, run: RunContext) -> Outcome:
        self.late[job.id] = run.late
        return await super().execute(job, run)


async def plugin_lateness(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Scenario 1, plugin: bulk-insert the reminders, start the engine, let the timer fire."""
    dues = reminder_dues(plan, now_ms() + plan.lead_ms)
    first = min(dues.values())
    path = workdir / "plugin-lateness.db"
    await write_plugin_jobs(path, plugin_rows(dues, {}, now_ms()))
    store = Store(path)
    await store.open()
    executor = InstantExecutor()
    engine = Engine(store, executor, Settings())
    try:
        await engine.start(timer=True)
        check(now_ms() < first - 200, "plugin: still starting when the first job was due")
        window = await firing_window(
            first,
            lambda: len(executor.calls) >= len(dues),
            first + plan.span_ms + 15_000,
            engine.drain,
        )
        check_once_each([c[0] for c in executor.calls], set(dues), "plugin lateness")
        check(
            len(executor.calls) == len(dues), f"plugin: {len(executor.calls)} of {len(dues)} fired"
        )
        ok = await scalar(
            store, "SELECT count(*) FROM runs WHERE status='ok' AND ended_at IS NOT NULL"
        )
        check(ok == len(dues), f"plugin: {ok} finished run rows, expected {len(dues)}")
        left = await scalar(store, "SELECT count(*) FROM jobs")
        check(left == 0, f"plugin: {left} one-shots left behind")
    finally:
        await engine.stop()
        await store.close()
    lateness = [fired - dues[job_id] for job_id, _, fired in executor.calls]
    return {"fires": len(lateness), **lateness_stats(lateness), **asdict(window)}


async def plugin_memory(db_path: Path, cap_s: float) -> dict[str, Any]:
    """Scenario 2, plugin: open the store, start the engine, wait until it is armed (and
    until a large file's aside integrity check ended), then read the memory figures."""
    store = Store(db_path)
    clock = ArmWatchClock()
    executor = InstantExecutor()
    t0 = time.perf_counter()
    await store.open()
    engine = Engine(store, executor, Settings(), clock=clock)
    await engine.start(timer=True)
    await clock.armed.wait()
    armed_s = time.perf_counter() - t0
    at_start = memory_kib()
    deadline = time.monotonic() + cap_s
    while store.integrity_pending and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    settled_s = time.perf_counter() - t0
    after = memory_kib()
    try:
        count, earliest = (
            await scalar(store, "SELECT count(*) FROM jobs"),
            await scalar(store, "SELECT min(next_run_at) FROM jobs"),
        )
        check(not executor.calls, f"plugin: {len(executor.calls)} fired, none was due")
        check(await store.next_due_at() == earliest, "plugin: not armed on the earliest job")
        check(not store.integrity_pending, "plugin: the integrity check did not finish")
    finally:
        await engine.stop()
        await store.close()
    return {
        "jobs": count,
        "start_s": armed_s,
        "settled_s": settled_s,
        "pending": 0,
        "rss_at_start_kib": at_start["rss_kib"],
        **after,
    }


async def plugin_downtime(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Scenario 3, plugin: write the overdue jobs as the engine left them, start, count."""
    start = now_ms()
    missed = missed_during_downtime(plan, start)
    path = workdir / "plugin-downtime.db"
    rows = plugin_rows(missed.one_shots, missed.recurring, start - 60 * MINUTE_MS)
    await write_plugin_jobs(path, rows)
    store = Store(path)
    await store.open()
    executor = LateNotingExecutor()
    engine = Engine(store, executor, Settings())
    t0 = time.perf_counter()
    try:
        await engine.start(timer=True)
        await asyncio.sleep(max(0.0, plan.downtime_wait_s - (time.perf_counter() - t0)))
        calls = list(executor.calls)  # what was delivered within the wait
        await engine.drain()
        check_once_each([c[0] for c in calls], missed.all_ids, "plugin downtime")
        statuses = await run_statuses(store)
        late_rows = await scalar(store, "SELECT count(*) FROM runs WHERE status='ok' AND late=1")
        check(statuses.get("ok", 0) == len(executor.calls), f"plugin: run rows {statuses}")
        check(late_rows == len(executor.calls), f"plugin: {late_rows} ok runs marked late")
    finally:
        await engine.stop()
        await store.close()
    delivered_at = {job_id: (wall - start) / 1000 for job_id, _, wall in calls}
    late = sum(executor.late[job_id] for job_id in delivered_at)
    return downtime_result(missed, delivered_at, late=late, extra={"run_rows": statuses})


async def run_statuses(store: Store) -> dict[str, int]:
    """How many run rows the plugin recorded, by status."""
    async with store.db.execute("SELECT status, count(*) FROM runs GROUP BY status") as cur:
        return {str(status): int(count) for status, count in await cur.fetchall()}


# ----- the core side -----------------------------------------------------------------------


@functools.cache
def core_manager_class() -> type[CronJobManager]:
    """``CronJobManager`` with only the hand-over to the LLM agent replaced by a recorder.

    Imported lazily: AstrBot's import takes seconds and writes its data folder under
    ``ASTRBOT_ROOT`` (set to a temp dir by the parent before any child starts)."""
    from astrbot.core.cron.manager import CronJobManager

    class RecordingCronJobManager(CronJobManager):
        """The real manager; ``_woke_main_agent`` (build and run the main agent) records the
        job and the wall time instead, at the point the core hands the job over."""

        def __init__(self, db: SQLiteDatabase) -> None:
            super().__init__(db)
            self.fires: list[tuple[str, float]] = []

        async def _woke_main_agent(self, *, extras: dict, **_: Any) -> None:
            self.fires.append((extras["cron_job"]["id"], time.time_ns() / 1e6))

    return RecordingCronJobManager


async def open_core_db(path: Path) -> SQLiteDatabase:
    """AstrBot's own SQLite database class on ``path``, tables created as at AstrBot boot."""
    from astrbot.core.db.sqlite import SQLiteDatabase

    db = SQLiteDatabase(str(path))
    await db.initialize()
    db.inited = True
    return db


def core_row(
    job_id: str, owner: int, due_ms: int, *, run_once: bool, created: datetime
) -> dict[str, Any]:
    """A ``cron_jobs`` row as AstrBot's ``future_task`` tool creates it (``add_active_job``):
    a one-shot keeps its instant in ``payload.run_at``, a recurring job a cron expression."""
    due = datetime.fromtimestamp(due_ms / 1000, UTC)
    note = f"bench reminder {job_id}"
    payload = {
        "session": f"qq:FriendMessage:{owner}",
        "sender_id": str(owner),
        "note": note,
        "origin": "tool",
    }
    if run_once:
        payload["run_at"] = due.isoformat()
    return {
        "job_id": job_id,
        "name": "active_agent_task",
        "description": note,
        "job_type": "active_agent",
        "cron_expression": None if run_once else daily_expr(due_ms),
        "timezone": "UTC",
        "payload": payload,
        "enabled": True,
        "persistent": True,
        "run_once": run_once,
        "status": "scheduled",
        "next_run_time": due.replace(tzinfo=None),
        "created_at": created,
        "updated_at": created,
    }


def core_rows(
    one_shots: dict[str, int], daily: dict[str, int], created_ms: int
) -> list[dict[str, Any]]:
    """Core rows for the same jobs as ``plugin_rows``."""
    created = datetime.fromtimestamp(created_ms / 1000, UTC).replace(tzinfo=None)
    rows = [
        core_row(i, k % 10_000, due, run_once=True, created=created)
        for k, (i, due) in enumerate(one_shots.items())
    ]
    rows += [
        core_row(i, k % 10_000, slot, run_once=False, created=created)
        for k, (i, slot) in enumerate(daily.items())
    ]
    return rows


async def insert_core_rows(db: SQLiteDatabase, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk-insert through AstrBot's own ``CronJob`` model (its column types and JSON)."""
    from astrbot.core.db.po import CronJob
    from sqlalchemy import insert

    async with db.get_db() as session, session.begin():
        for start in range(0, len(rows), 5_000):
            await session.execute(insert(CronJob), list(rows[start : start + 5_000]))


async def write_core_jobs(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Create an AstrBot core database on ``path`` holding ``rows``."""
    db = await open_core_db(path)
    try:
        await insert_core_rows(db, rows)
    finally:
        await db.engine.dispose()


@dataclass(slots=True)
class CoreSide:
    """A started core scheduler with its recorder and APScheduler's missed/error events."""

    db: SQLiteDatabase
    manager: Any  # RecordingCronJobManager (a class made at run time)
    missed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def fires(self) -> list[tuple[str, float]]:
        fires: list[tuple[str, float]] = self.manager.fires
        return fires

    async def start(self) -> None:
        """``CronJobManager.start`` as AstrBot's lifecycle calls it; the context is a stub,
        only kept by ``start()`` and read by the agent hand-over we replaced."""
        await self.manager.start(SimpleNamespace())

    async def stop(self) -> None:
        await self.manager.shutdown()
        await self.db.engine.dispose()


async def core_side(db: SQLiteDatabase) -> CoreSide:
    """A recording manager on ``db``, listening for APScheduler's missed and error events."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent

    manager = core_manager_class()(db)
    side = CoreSide(db, manager)

    def listen(event: JobExecutionEvent) -> None:
        (side.missed if event.code == EVENT_JOB_MISSED else side.errors).append(event.job_id)

    manager.scheduler.add_listener(listen, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    return side


async def core_lateness(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Scenario 1, core: write the reminders into the core DB, start the manager (it loads
    and schedules them), let APScheduler fire them."""
    dues = reminder_dues(plan, now_ms() + plan.lead_ms)
    first = min(dues.values())
    db = await open_core_db(workdir / "core-lateness.db")
    await insert_core_rows(db, core_rows(dues, {}, now_ms()))
    side = await core_side(db)
    try:
        await side.start()
        await settle(max(0.0, (first - now_ms()) / 1000), "core start-up writes")
        check(now_ms() < first - 200, "core: still starting when the first job was due")
        window = await firing_window(
            first,
            lambda: len(side.fires) >= len(dues),
            first + plan.span_ms + 15_000,
            functools.partial(settle, 30, "core job runs"),
        )
        check_once_each([f[0] for f in side.fires], set(dues), "core lateness")
        check(len(side.fires) == len(dues), f"core: {len(side.fires)} of {len(dues)} fired")
        check(
            not side.missed and not side.errors,
            f"core: missed {side.missed[:3]}, errors {side.errors[:3]}",
        )
        left = len(await db.list_cron_jobs())
        check(left == 0, f"core: {left} one-shot rows left behind")
        check(not side.manager.scheduler.get_jobs(), "core: APScheduler still holds jobs")
    finally:
        await side.stop()
    lateness = [fired - dues[job_id] for job_id, fired in side.fires]
    return {"fires": len(lateness), **lateness_stats(lateness), **asdict(window)}


async def core_memory(db_path: Path, cap_s: float) -> dict[str, Any]:
    """Scenario 2, core: ``start()`` (list every row, build a trigger and an APScheduler job
    for each), then wait for its fire-and-forget ``next_run_time`` writes, up to ``cap_s``."""
    db = await open_core_db(db_path)  # AstrBot opens its database at boot, before cron
    side = await core_side(db)
    started_at = sa_timestamp(datetime.now(UTC))
    t0 = time.perf_counter()
    await side.start()
    start_s = time.perf_counter() - t0
    at_start = memory_kib()
    pending = await other_tasks_done(cap_s, poll_s=0.25)
    settled_s = time.perf_counter() - t0
    after = memory_kib()
    try:
        scheduled = len(side.manager.scheduler.get_jobs())
        check(not side.fires, f"core: {len(side.fires)} fired, none was due")
        check(not side.missed and not side.errors, "core: missed or failed jobs at start")
        written = await count_core_rows(db, "updated_at >= :t", {"t": started_at})
        count = await count_core_rows(db, "1", {})
        check(scheduled == count, f"core: {scheduled} jobs in APScheduler, {count} stored")
    finally:
        await side.stop()
    return {
        "jobs": count,
        "start_s": start_s,
        "settled_s": settled_s,
        "pending": pending,
        "next_run_written": written,
        "rss_at_start_kib": at_start["rss_kib"],
        **after,
    }


async def count_core_rows(db: SQLiteDatabase, where: str, params: dict[str, Any]) -> int:
    """``count(*)`` of ``cron_jobs`` rows matching ``where`` (a bookkeeping check)."""
    from sqlalchemy import text

    async with db.get_db() as session:
        result = await session.execute(
            text(f"SELECT count(*) FROM cron_jobs WHERE {where}"), params
        )
        return int(result.scalar_one())


async def core_downtime(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Scenario 3, core: write the overdue rows as the core left them (``next_run_time`` in
    the past), start the manager, count what reaches the agent hand-over."""
    start = now_ms()
    missed = missed_during_downtime(plan, start)
    db = await open_core_db(workdir / "core-downtime.db")
    await insert_core_rows(
        db, core_rows(missed.one_shots, missed.recurring, start - 60 * MINUTE_MS)
    )
    side = await core_side(db)
    t0 = time.perf_counter()
    try:
        await side.start()
        await asyncio.sleep(max(0.0, plan.downtime_wait_s - (time.perf_counter() - t0)))
        fires = list(side.fires)
        await settle(30, "core job runs")
        check_once_each([f[0] for f in fires], missed.all_ids, "core downtime")
        fired_once = {job_id for job_id, _ in fires} & set(missed.one_shots)
        check(
            fired_once | set(side.missed) >= set(missed.one_shots),
            "core: a one-shot neither fired nor was reported missed",
        )
        left = {job.job_id for job in await db.list_cron_jobs()}
        check(not (left & fired_once), "core: a delivered one-shot's row was not deleted")
        in_grace = sum(1 for due in missed.one_shots.values() if due > start - CORE_GRACE_S * 1000)
    finally:
        await side.stop()
    delivered_at = {job_id: (wall - start) / 1000 for job_id, wall in fires}
    extra = {
        "reported_missed": len(side.missed),
        "one_shots_in_grace": in_grace,
        "rows_left": len(left),
        "one_shot_rows_left": len(left & set(missed.one_shots)),
    }
    return downtime_result(missed, delivered_at, late=0, extra=extra)


def downtime_result(
    missed: Missed, delivered_at: dict[str, float], *, late: int, extra: dict[str, Any]
) -> dict[str, Any]:
    """Scenario 3's figures, the same shape for both sides."""
    times = sorted(delivered_at.values())
    return {
        "one_shots": len(missed.one_shots),
        "recurring": len(missed.recurring),
        "delivered": len(delivered_at),
        "delivered_one_shots": len(set(delivered_at) & set(missed.one_shots)),
        "delivered_recurring": len(set(delivered_at) & set(missed.recurring)),
        "marked_late": late,
        "first_s": times[0] if times else None,
        "last_s": times[-1] if times else None,
        **extra,
    }


# ----- the child process -------------------------------------------------------------------


def import_both() -> None:
    """Import AstrBot's scheduler stack and the plugin's engine, so both children start their
    memory baseline from the same AstrBot process image."""
    core_manager_class()
    import astrbot.core.db.sqlite  # noqa: F401


async def child_main(
    side: str, scenario: str, plan: Plan, workdir: Path, db: Path | None
) -> dict[str, Any]:
    """One side of one scenario, in this fresh process."""
    errors = TaskErrors()
    errors.install()
    runners: dict[tuple[str, str], Callable[[], Awaitable[dict[str, Any]]]] = {
        ("plugin", "lateness"): lambda: plugin_lateness(plan, workdir),
        ("core", "lateness"): lambda: core_lateness(plan, workdir),
        ("plugin", "memory"): lambda: plugin_memory(db or Path(), plan.settle_cap_s),
        ("core", "memory"): lambda: core_memory(db or Path(), plan.settle_cap_s),
        ("plugin", "downtime"): lambda: plugin_downtime(plan, workdir),
        ("core", "downtime"): lambda: core_downtime(plan, workdir),
    }
    result = await runners[side, scenario]()
    result["task_errors"] = dict(errors.counts)
    if side == "plugin":
        check(not errors.counts, f"plugin: unhandled task errors {dict(errors.counts)}")
    return result


def run_child(args: argparse.Namespace) -> int:
    """Entry point of a child: import, take the baseline, run, write the result as JSON."""
    import_both()
    baseline = memory_kib()
    side, scenario = args.child.split(":")
    result = asyncio.run(child_main(side, scenario, PLANS[args.plan], args.workdir, args.db))
    result["baseline_rss_kib"] = baseline["rss_kib"]
    result["baseline_hwm_kib"] = baseline["hwm_kib"]
    args.result.write_text(json.dumps(result))
    return 0


# ----- the parent: spawn, print, summarize -------------------------------------------------


def spawn(
    side: str, scenario: str, plan: Plan, workdir: Path, db: Path | None = None
) -> dict[str, Any]:
    """Run one side of one scenario in a new interpreter; its output goes to log files (the
    core logs through AstrBot's logger), its figures come back as a JSON file."""
    stem = workdir / f"{side}-{scenario}-{db.stem if db else 'run'}"
    result = stem.with_suffix(".json")
    command = [sys.executable, "-m", "bench.vs_core", "--child", f"{side}:{scenario}"]
    command += ["--plan", plan.name, "--workdir", str(workdir), "--result", str(result)]
    command += ["--db", str(db)] if db else []
    with open(f"{stem}.out", "w") as out, open(f"{stem}.err", "w") as err:
        done = subprocess.run(command, cwd=ROOT, stdout=out, stderr=err, check=False)
    if done.returncode != 0 or not result.exists():
        tail = Path(f"{stem}.err").read_text(errors="replace")[-3000:]
        raise BenchFailure(f"{side} {scenario} child failed (exit {done.returncode}):\n{tail}")
    figures: dict[str, Any] = json.loads(result.read_text())
    return figures


def section_lateness(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Scenario 1 on both sides."""
    heading(
        f"1. fire lateness: {plan.reminders:,} one-shots at random over {plan.span_ms / 1000:g} s, real clock"
    )
    say("   (written into each side's own database, then the scheduler started on them; lateness")
    say("    = hand-over wall time - due time: the core's _woke_main_agent, the plugin's executor;")
    say("    CPU = process time, all threads, first due .. last fire's bookkeeping written)")
    results = {}
    for side in SIDES:
        r = spawn(side, "lateness", plan, workdir)
        r["cpu_per_fire_ms"] = r["cpu_s"] / r["fires"] * 1000
        results[side] = r
        say(
            f"   {side:<6}  p50 {r['p50_ms']:7.2f}  p90 {r['p90_ms']:7.2f}  p99 {r['p99_ms']:7.2f}  "
            f"max {r['max_ms']:8.2f} ms   CPU {r['cpu_s']:.2f} s for {r['fires']} fires = "
            f"{r['cpu_per_fire_ms']:.3f} ms/fire"
        )
    return results


def build_stored(size: int, workdir: Path) -> dict[str, Path]:
    """Scenario 2's databases: the same daily jobs in the core's and the plugin's format."""
    now = now_ms()
    slots = stored_slots(size, now)
    paths = {
        "core": workdir / f"core-stored-{size}.db",
        "plugin": workdir / f"plugin-stored-{size}.db",
    }
    t0 = time.perf_counter()
    asyncio.run(write_core_jobs(paths["core"], core_rows({}, slots, now)))
    asyncio.run(write_plugin_jobs(paths["plugin"], plugin_rows({}, slots, now)))
    say(f"   built {size:,} daily jobs for both sides in {time.perf_counter() - t0:.1f} s")
    return paths


def section_memory(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Scenario 2 on both sides, each size in fresh processes."""
    heading("2. stored daily jobs: start-up time and memory, fresh process per side and size")
    say("   (start = until firing is armed: core start() returned, every job in APScheduler;")
    say("    plugin store open + engine start + timer armed. settled = also the start-up's")
    say("    background work: core's per-job next_run_time writes, plugin's aside integrity")
    say(f"    check of a large file; capped at {plan.settle_cap_s:g} s. growth = VmRSS when")
    say("    armed / settled - VmRSS after imports (both sides import AstrBot and the plugin);")
    say("    peak = VmHWM - VmRSS after imports)")
    results: dict[str, Any] = {}
    for size in plan.stored:
        paths = build_stored(size, workdir)
        for side in SIDES:
            r = spawn(side, "memory", plan, workdir, paths[side])
            check(r["jobs"] == size, f"{side}: {r['jobs']} jobs stored, expected {size}")
            r["growth_mib"] = mib(r["rss_kib"] - r["baseline_rss_kib"])
            r["armed_growth_mib"] = mib(r["rss_at_start_kib"] - r["baseline_rss_kib"])
            r["peak_growth_mib"] = mib(r["hwm_kib"] - r["baseline_rss_kib"])
            results[f"{side}:{size}"] = r
            say(memory_line(side, size, r))
    return results


def memory_line(side: str, size: int, r: dict[str, Any]) -> str:
    """One printed line of scenario 2."""
    line = (
        f"   {side:<6} {size:>8,} jobs  start {ms(r['start_s']):>9}  settled {ms(r['settled_s']):>9}"
        f"  growth: armed {r['armed_growth_mib']:+6.1f}, settled {r['growth_mib']:+6.1f} MiB  peak {r['peak_growth_mib']:+7.1f} MiB"
        f"  (VmHWM {mib(r['hwm_kib']):,.0f} MiB, baseline {mib(r['baseline_rss_kib']):,.0f})"
    )
    if side == "core":
        failed = sum(r["task_errors"].values())
        line += (
            f"\n{'':>25}next_run_time writes: {r['next_run_written']:,} landed, {failed:,} failed"
        )
        line += f" ({', '.join(r['task_errors']) or 'none'}), {r['pending']:,} still pending"
    return line


def section_downtime(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Scenario 3 on both sides."""
    total = plan.missed_one_shots + plan.missed_recurring
    heading(
        f"3. after 10 minutes down: {total} missed reminders, delivered within {plan.downtime_wait_s:g} s"
    )
    say(f"   ({plan.missed_one_shots} one-shots due at random in the 10 minutes before start,")
    say(
        f"    {plan.missed_recurring} daily crons whose slot was 1-9 minutes before start; downtime"
    )
    say("    simulated by writing them into each side's database as its scheduler leaves them")
    say("    (core: run_at / next_run_time in the past; plugin: next_run_at = the missed slot),")
    say("    then starting the scheduler on the real clock. The core loads jobs into APScheduler:")
    say(f"    a one-shot past its {CORE_GRACE_S} s misfire grace is dropped, a cron trigger starts")
    say("    from now. The plugin's catch-up policy `once` (default) runs each missed job once,")
    say("    marked late, 5 at once and the rest 5 every 2 s)")
    results = {}
    for side in SIDES:
        r = spawn(side, "downtime", plan, workdir)
        results[side] = r
        say(downtime_line(side, r))
    return results


def downtime_line(side: str, r: dict[str, Any]) -> str:
    """One printed block of scenario 3."""
    total = r["one_shots"] + r["recurring"]
    line = (
        f"   {side:<6}  delivered {r['delivered']}/{total}  (one-shots {r['delivered_one_shots']}"
        f"/{r['one_shots']}, recurring {r['delivered_recurring']}/{r['recurring']})"
    )
    if r["delivered"]:
        line += f", {r['first_s']:.2f} .. {r['last_s']:.2f} s after start"
    if side == "plugin":
        return line + f", marked late {r['marked_late']}/{r['delivered']}, run rows {r['run_rows']}"
    return line + (
        f"\n{'':>10}one-shots within the {CORE_GRACE_S} s grace: {r['one_shots_in_grace']}; "
        f"APScheduler reported {r['reported_missed']} missed; no late marking; "
        f"{r['one_shot_rows_left']} undelivered one-shot rows stay enabled in the DB"
    )


# ----- summary -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One summary line: a figure on both sides, and which direction is better."""

    figure: str
    core: float | None
    plugin: float | None
    unit: str
    better: str  # "lower" or "higher"

    def ratio(self) -> str:
        """plugin / core, or a dash where it means nothing (a zero or a missing side)."""
        if self.core is None or self.plugin is None or self.core == 0:
            return "—"
        return f"{self.plugin / self.core:.3g}"

    def winner(self) -> str:
        """Which side is better on this figure."""
        if self.core is None or self.plugin is None or self.core == self.plugin:
            return "="
        plugin_lower = self.plugin < self.core
        return "plugin" if plugin_lower == (self.better == "lower") else "core"

    def shown(self, value: float | None) -> str:
        """A value with its unit."""
        if value is None:
            return "—"
        if value == 0:
            return f"0 {self.unit}"
        digits = 3 if abs(value) < 1 else 2 if abs(value) < 10 else 1 if abs(value) < 1000 else 0
        return f"{value:,.{digits}f} {self.unit}".strip()


def summary_rows(results: dict[str, Any]) -> list[Row]:
    """The side-by-side table, from whichever scenarios ran."""
    rows: list[Row] = []
    late = results.get("lateness")
    if late:
        c, p = late["core"], late["plugin"]
        rows += [
            Row("fire lateness p50", c["p50_ms"], p["p50_ms"], "ms", "lower"),
            Row("fire lateness p99", c["p99_ms"], p["p99_ms"], "ms", "lower"),
            Row("CPU time per fire", c["cpu_per_fire_ms"], p["cpu_per_fire_ms"], "ms", "lower"),
        ]
    rows += memory_rows(results.get("memory", {}))
    down = results.get("downtime")
    if down:
        c, p = down["core"], down["plugin"]
        for key, label in (
            ("delivered", "all"),
            ("delivered_one_shots", "one-shots"),
            ("delivered_recurring", "recurring"),
        ):
            total = {
                "delivered": "",
                "delivered_one_shots": "one_shots",
                "delivered_recurring": "recurring",
            }[key]
            whole = c["one_shots"] + c["recurring"] if not total else c[total]
            rows.append(
                Row(
                    f"missed in 10 min downtime, delivered ({label})",
                    100 * c[key] / whole,
                    100 * p[key] / whole,
                    "%",
                    "higher",
                )
            )
    return rows


def memory_rows(memory: dict[str, Any]) -> list[Row]:
    """Scenario 2's summary lines, per stored-job count (the empty start is in the detail)."""
    rows: list[Row] = []
    sizes = sorted({int(key.split(":")[1]) for key in memory} - {0})
    for size in sizes:
        c, p = memory[f"core:{size}"], memory[f"plugin:{size}"]
        n = f"{size:,} stored"
        rows += [
            Row(
                f"start-up, {n} (until armed)",
                c["start_s"] * 1000,
                p["start_s"] * 1000,
                "ms",
                "lower",
            ),
            Row(
                f"start-up, {n} (background work done)",
                c["settled_s"] * 1000,
                p["settled_s"] * 1000,
                "ms",
                "lower",
            ),
            Row(
                f"RSS growth once armed, {n}",
                c["armed_growth_mib"],
                p["armed_growth_mib"],
                "MiB",
                "lower",
            ),
            Row(
                f"RSS growth after background work, {n}",
                c["growth_mib"],
                p["growth_mib"],
                "MiB",
                "lower",
            ),
            Row(
                f"peak memory growth (VmHWM), {n}",
                c["peak_growth_mib"],
                p["peak_growth_mib"],
                "MiB",
                "lower",
            ),
            Row(
                f"peak memory (VmHWM, whole process), {n}",
                mib(c["hwm_kib"]),
                mib(p["hwm_kib"]),
                "MiB",
                "lower",
            ),
        ]
    return rows


def print_summary(rows: list[Row]) -> None:
    """figure | core | plugin | plugin/core | better."""
    heading("summary: AstrBot core scheduler vs this plugin")
    header = ("figure", "core", "plugin", "plugin/core", "better")
    table = [
        (r.figure, r.shown(r.core), r.shown(r.plugin), r.ratio(), f"{r.better} ({r.winner()})")
        for r in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *table]) for i in range(len(header))]
    for n, cells in enumerate([header, *table]):
        say(
            "   "
            + "  ".join(
                f"{cell:<{w}}" if i == 0 else f"{cell:>{w}}"
                for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
        if n == 0:
            say("   " + "-" * (sum(widths) + 2 * (len(widths) - 1)))


# ----- entry point -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (``--child`` and the flags after it are internal)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.vs_core",
        description="AstrBot's built-in CronJobManager vs this plugin's engine, side by side.",
    )
    parser.add_argument("--quick", action="store_true", help="a smaller run, about 2 minutes")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write figures as JSON")
    parser.add_argument(
        "--only", choices=SCENARIOS, action="append", help="run only this scenario (repeatable)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--plan", choices=PLANS, default="full", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def versions() -> str:
    """AstrBot and APScheduler versions, for the printout."""
    from importlib.metadata import version

    return f", AstrBot {version('astrbot')}, APScheduler {version('apscheduler')}"


def run_parent(args: argparse.Namespace) -> int:
    """Run the scenarios asked for, print the figures and the table, maybe write JSON."""
    plan = QUICK if args.quick else FULL
    scenarios = args.only or list(SCENARIOS)
    began = time.perf_counter()
    say(banner(f"AstrBot core scheduler vs future tasks plugin ({plan.name})", versions()))
    results: dict[str, Any] = {"plan": plan.name, "load_average_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="future-tasks-vs-core-") as tmp:
        workdir = Path(tmp)
        # AstrBot writes data/ (config, templates) under ASTRBOT_ROOT when imported.
        os.environ["ASTRBOT_ROOT"] = str(workdir / "astrbot-root")
        sections = {
            "lateness": section_lateness,
            "memory": section_memory,
            "downtime": section_downtime,
        }
        for name in scenarios:
            results[name] = sections[name](plan, workdir)
    rows = summary_rows(results)
    print_summary(rows)
    results["summary"] = [asdict(r) | {"ratio": r.ratio(), "winner": r.winner()} for r in rows]
    results["wall_s"] = time.perf_counter() - began
    results["load_average_end"] = os.getloadavg()
    say(f"\n   wall time {results['wall_s']:.0f} s, load average now {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        say(f"   figures written to {args.json}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """A child runs one side of one scenario; otherwise this is the parent."""
    args = parse_args(argv)
    if args.child:
        return run_child(args)
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
