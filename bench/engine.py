"""Engine benchmarks for the targets of SPEC §10. A benchmark, not a test: it prints figures.

Run from the repository root::

    .venv/bin/python -m bench.engine                 # full run (a few minutes)
    .venv/bin/python -m bench.engine --quick         # smaller run, under a minute
    .venv/bin/python -m bench.engine --json out.json # also write the figures as JSON

What it measures:

0. **floors**, in the same run: batched claims per second on the same SQLite, the asyncio
   timer's own lateness, and the CPU of one fire's bare transactions; the summary prints
   fires/s and lateness as ratios to them (SPEC §10), since absolute rates differ by box.
1. **fires/s** with full bookkeeping (claim, execute, apply, history row): 10 000 jobs due at
   one instant, fired by ``tick`` + ``drain`` on a fake clock: one-shots, ``every`` jobs and
   daily cron jobs (whose next run costs a cron computation each).
2. **fire lateness** (executor call minus due slot) with the real clock and the real timer
   loop: idle, 1 000 jobs in a minute, and 10 000 jobs in a minute.
3. **start-up time and memory** with 100 000 / 1 000 000 stored jobs, each in a fresh
   subprocess so its RSS is clean (the database files are cached in a temp dir).
4. **next-run computation**: microseconds per ``next_run_after`` call per schedule kind.

Every scenario checks its own bookkeeping (each job ran once, every run row finished), so a
fast figure cannot come from skipped work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import platform
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.clock import FakeClock, SystemClock
from core.engine import Engine, RunContext
from core.migrations import SCHEMA_VERSION
from core.models import Delivery, Job, Owner, Payload, RunStatus, Schedule, ScheduleKind
from core.policy import Outcome
from core.schedule import next_cron_after, next_run_after
from core.settings import Settings
from core.store import Store

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

# Bump when the generated start-up databases change shape, so stale cached files are rebuilt.
_DB_FORMAT = 1
_CACHE_DIR = Path(tempfile.gettempdir()) / "future_tasks_bench"
# A cached database is reused only while its earliest job is at least this far away.
_CACHE_MIN_LEAD_MS = 2 * HOUR_MS

# (id, owner_origin, owner_key, body, next_run_at, next_slot_at, created_at, updated_at)
JobRow = tuple[str, str, str, str, int, int, int, int]
_INSERT_SQL = (
    "INSERT INTO jobs (id, owner_origin, owner_key, body, enabled, next_run_at, next_slot_at, "
    "created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)"
)

# ----- plans -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LatenessCase:
    """One lateness scenario: ``jobs`` reminders due at random instants over ``span_ms``."""

    key: str
    label: str
    jobs: int
    span_ms: int
    target_p99_ms: float | None  # None: SPEC §10 names no target, the figure is reported


@dataclass(frozen=True, slots=True)
class Plan:
    """How big each scenario is; ``FULL`` is the SPEC §10 run, ``QUICK`` a smoke run."""

    name: str
    fire_jobs: int
    fire_repeats: int
    lateness: tuple[LatenessCase, ...]
    startup_sizes: tuple[int, ...]
    startup_repeats: int
    next_run_calls: int


FULL = Plan(
    name="full",
    fire_jobs=10_000,
    fire_repeats=5,
    lateness=(
        LatenessCase("idle", "idle: 200 reminders over 20 s", 200, 20_000, 5.0),
        LatenessCase("load", "load: 1 000 reminders over 60 s", 1_000, 60_000, None),
        LatenessCase("burst", "10 000 reminders over 60 s", 10_000, 60_000, 50.0),
    ),
    startup_sizes=(0, 100_000, 1_000_000),
    startup_repeats=5,
    next_run_calls=20_000,
)

QUICK = Plan(
    name="quick",
    fire_jobs=10_000,
    fire_repeats=1,
    lateness=(
        LatenessCase("idle", "idle: 50 reminders over 5 s", 50, 5_000, 5.0),
        LatenessCase("load", "load: 1 000 reminders over 10 s", 1_000, 10_000, None),
        # Six times denser than the SPEC's minute, held to the same target.
        LatenessCase("burst", "10 000 reminders over 10 s", 10_000, 10_000, 50.0),
    ),
    startup_sizes=(0, 100_000),
    startup_repeats=1,
    next_run_calls=5_000,
)


# ----- generated jobs ----------------------------------------------------------------------

_ID = "@@ID@@"
_OWNER = "@@OWNER@@"
_EXPR = "@@EXPR@@"
_DUE = 987_654_321_098_761  # sentinel instants: replaced by placeholders in the JSON
_CREATED = 987_654_321_098_762


def body_template(
    kind: ScheduleKind,
    *,
    every_ms: int | None = None,
    tz: str = "UTC",
    delete_after_run: bool = False,
) -> str:
    """A job's JSON body as a ``%``-template with ``id``, ``owner``, ``due``, ``created`` and
    (cron) ``expr`` fields: one pydantic dump, then plain string formatting per row, because
    a million ``model_dump_json`` calls would take most of a minute."""
    schedule = Schedule(
        kind=kind,
        tz=tz,
        at_ms=_DUE if kind == ScheduleKind.AT else None,
        every_ms=every_ms if kind == ScheduleKind.EVERY else None,
        anchor_ms=_DUE if kind == ScheduleKind.EVERY else None,
        expr=_EXPR if kind == ScheduleKind.CRON else None,
        text=f"bench {kind.value}",
    )
    job = Job(
        id=_ID,
        owner=Owner(origin=f"qq:FriendMessage:{_OWNER}", sender_id=_OWNER),
        schedule=schedule,
        payload=Payload(message=f"bench reminder {_ID}"),
        delete_after_run=delete_after_run,
        created_at=_CREATED,
        updated_at=_CREATED,
    )
    body = job.model_dump_json().replace("%", "%%")
    for sentinel, placeholder in (
        (_ID, "%(id)s"),
        (_OWNER, "%(owner)s"),
        (_EXPR, "%(expr)s"),
        (str(_DUE), "%(due)d"),
        (str(_CREATED), "%(created)d"),
    ):
        body = body.replace(sentinel, placeholder)
    # The template must give back a valid job: check one rendering.
    probe = body % {"id": "probe", "owner": "1", "expr": "0 9 * * *", "due": 1, "created": 0}
    Job.model_validate_json(probe)
    return body


def job_row(
    template: str, job_id: str, owner: int, due: int, created: int, expr: str = ""
) -> JobRow:
    """One ``_INSERT_SQL`` parameter row."""
    body = template % {"id": job_id, "owner": owner, "expr": expr, "due": due, "created": created}
    return (job_id, f"qq:FriendMessage:{owner}", f"qq:{owner}", body, due, due, created, created)


def scrambled_id(index: int) -> str:
    """A unique 8-character id that looks random (a bijection on 36**8), like real job ids."""
    value = (index * 2_654_435_761 + 12_345) % 36**8
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = []
    for _ in range(8):
        value, rem = divmod(value, 36)
        out.append(digits[rem])
    return "".join(out)


async def insert_rows(store: Store, rows: Sequence[JobRow]) -> None:
    """Bulk insert job rows straight into the store, in one transaction."""
    async with store.transaction() as db:
        await db.executemany(_INSERT_SQL, rows)


async def scalar(store: Store, sql: str, params: Sequence[object] = ()) -> Any:
    """The first column of the first row of a read-only query (between engine steps)."""
    async with store.db.execute(sql, params) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


class BenchFailure(RuntimeError):
    """A scenario's bookkeeping was wrong: its figure would be meaningless."""


def check(condition: bool, what: str) -> None:
    """Stop the benchmark with ``what`` unless ``condition`` holds (not ``assert``: -O)."""
    if not condition:
        raise BenchFailure(what)


# ----- executors and clocks ----------------------------------------------------------------


@dataclass
class InstantExecutor:
    """Succeeds at once, marks the output delivered, and records each call's wall time."""

    calls: list[tuple[str, int | None, float]] = field(default_factory=list)

    async def execute(self, job: Job, run: RunContext) -> Outcome:
        self.calls.append((job.id, run.slot_at, time.time_ns() / 1e6))
        run.mark_delivered()
        return Outcome(RunStatus.OK, Delivery.DELIVERED, output=job.payload.message)


class ArmWatchClock(SystemClock):
    """The system clock, noting when the timer loop first goes to sleep: the engine is armed
    (it has ticked and looked up the next due job)."""

    def __init__(self) -> None:
        self.armed = asyncio.Event()

    async def wait(self, event: asyncio.Event, timeout_ms: int) -> None:
        self.armed.set()
        await super().wait(event, timeout_ms)


# ----- statistics and printing -------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (``q`` in 0..1)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def say(text: str = "") -> None:
    """Print a line at once (the run is long; progress should show as it goes)."""
    print(text, flush=True)


def heading(text: str) -> None:
    """A section heading."""
    say()
    say(f"== {text} " + "=" * max(0, 86 - len(text)))


def ms(seconds: float) -> str:
    """Seconds as a short millisecond figure: ``0.0123`` -> ``"12.3 ms"``."""
    return f"{seconds * 1000:,.1f} ms" if seconds < 0.1 else f"{seconds * 1000:,.0f} ms"


def mib(kib: float) -> float:
    """KiB to MiB."""
    return kib / 1024


def proc_status_kib(field_name: str) -> int:
    """A memory figure of this process from /proc/self/status (``VmRSS``, ``VmHWM``), KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1])
    return -1


def max_rss_kib() -> int:
    """``ru_maxrss`` (KiB on Linux). Beware: Linux carries it over fork + exec, so in a child
    it starts at the parent's peak; ``VmHWM`` is the clean peak of this process image."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@contextlib.asynccontextmanager
async def fake_clock_engine(
    path: Path,
) -> AsyncIterator[tuple[Store, Engine, FakeClock, InstantExecutor]]:
    """A started engine (no timer) on a fresh store at ``path`` and a fake clock a minute
    before ``_FIRE_AT``; stopped and closed afterwards."""
    store = Store(path)
    await store.open()
    clock = FakeClock(_FIRE_AT - MINUTE_MS)
    executor = InstantExecutor()
    engine = Engine(store, executor, Settings(), clock=clock)
    try:
        await engine.start(timer=False)
        yield store, engine, clock, executor
    finally:
        await engine.stop()
        await store.close()


# ----- 0. the floors this run stands on ---------------------------------------------------

_FLOOR_TIMER_SLEEPS = 200
_FLOOR_ONE_BY_ONE = 300


async def floor_claims(workdir: Path, jobs: int) -> float:
    """Batched ``UPDATE … RETURNING`` claims per second on the same SQLite, through the same
    aiosqlite connection, with nothing else: the ceiling any fires/s figure stands under."""
    store = Store(workdir / "floor-claims.db")
    await store.open()
    try:
        template = body_template(ScheduleKind.AT, delete_after_run=True)
        rows = [job_row(template, f"c{i:07d}", 1, _FIRE_AT, 0) for i in range(jobs)]
        await insert_rows(store, rows)
        claimed, t0 = 0, time.perf_counter()
        while True:
            async with (
                store.transaction() as db,
                db.execute(
                    "UPDATE jobs SET running_run_id = id WHERE id IN (SELECT id FROM jobs INDEXED BY "
                    "jobs_due_free WHERE enabled=1 AND next_run_at <= ? AND running_run_id IS NULL "
                    "ORDER BY next_run_at LIMIT 500) RETURNING id, body",
                    (_FIRE_AT,),
                ) as cur,
            ):
                batch = len(await cur.fetchall())
            claimed += batch
            if batch < 500:
                break
        seconds = time.perf_counter() - t0
        check(claimed == jobs, f"floor: claimed {claimed} of {jobs}")
    finally:
        await store.close()
    return jobs / seconds


async def floor_transactions(workdir: Path, fires: int) -> float:
    """CPU seconds per fire of the least one fire one by one can cost: a claim transaction
    (claim marker, run row) and an outcome transaction (run row, job row)."""
    store = Store(workdir / "floor-one-by-one.db")
    await store.open()
    try:
        template = body_template(ScheduleKind.AT, delete_after_run=True)
        await insert_rows(
            store, [job_row(template, f"o{i:05d}", 1, _FIRE_AT, 0) for i in range(fires)]
        )
        cpu0 = time.process_time()
        for i in range(fires):
            job_id = f"o{i:05d}"
            async with store.transaction() as db:
                await db.execute("UPDATE jobs SET running_run_id=? WHERE id=?", (job_id, job_id))
                await db.execute(
                    "INSERT INTO runs (run_id, job_id, trigger, started_at, status, delivery) "
                    "VALUES (?, ?, 'schedule', 0, 'running', 'pending')",
                    (job_id, job_id),
                )
            async with store.transaction() as db:
                await db.execute(
                    "UPDATE runs SET status='ok', ended_at=1 WHERE run_id=?", (job_id,)
                )
                await db.execute("DELETE FROM jobs WHERE id=?", (job_id,))
        return (time.process_time() - cpu0) / fires
    finally:
        await store.close()


async def engine_one_by_one(workdir: Path, fires: int) -> float:
    """CPU seconds per fire when fires come one by one: each job due alone, ``tick`` then
    ``drain`` (claim, execute, apply, history row) on a fake clock."""
    async with fake_clock_engine(workdir / "one-by-one.db") as (store, engine, clock, executor):
        template = body_template(ScheduleKind.AT, delete_after_run=True)
        dues = [_FIRE_AT + i * 1_000 for i in range(fires)]
        await insert_rows(
            store, [job_row(template, f"s{i:05d}", 1, due, 0) for i, due in enumerate(dues)]
        )
        cpu0 = time.process_time()
        for due in dues:
            clock.set(due)
            await engine.tick()
            await engine.drain()
        cpu = time.process_time() - cpu0
        check(len(executor.calls) == fires, f"one by one: {len(executor.calls)} of {fires} fired")
    return cpu / fires


async def floor_timer(sleeps: int) -> list[float]:
    """How late asyncio's own timer wakes (ms), sleeping 1-20 ms at a time: no engine."""
    rng = random.Random(7)
    lateness = []
    for _ in range(sleeps):
        wanted = rng.uniform(0.001, 0.020)
        t0 = time.perf_counter()
        await asyncio.sleep(wanted)
        lateness.append((time.perf_counter() - t0 - wanted) * 1000)
    return sorted(lateness)


async def bench_floor(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Section 0: the floors measured in this run, so each figure can be read as a ratio to
    what this machine can do at all right now (SPEC §10: absolute rates differ by box)."""
    heading("0. floors: what this machine does with no engine around it")
    claims = await floor_claims(workdir, plan.fire_jobs)
    per_fire = await floor_transactions(workdir, _FLOOR_ONE_BY_ONE)
    engine_per_fire = await engine_one_by_one(workdir, _FLOOR_ONE_BY_ONE)
    timer = await floor_timer(_FLOOR_TIMER_SLEEPS)
    result = {
        "claims_per_s": claims,
        "floor_cpu_per_fire_s": per_fire,
        "engine_cpu_per_fire_s": engine_per_fire,
        "timer_p50_ms": percentile(timer, 0.50),
        "timer_p99_ms": percentile(timer, 0.99),
    }
    say(f"   batched claims (UPDATE … RETURNING, 500 a batch)   {claims:>9,.0f} rows/s")
    say(
        f"   asyncio timer's own lateness                     p50 {result['timer_p50_ms']:.2f}  "
        f"p99 {result['timer_p99_ms']:.2f} ms ({_FLOOR_TIMER_SLEEPS} sleeps of 1-20 ms)"
    )
    say(
        f"   one fire alone: claim + outcome transactions     {per_fire * 1000:.2f} ms CPU; "
        f"the engine's whole fire {engine_per_fire * 1000:.2f} ms CPU "
        f"({engine_per_fire / per_fire:.1f}x)"
    )
    return result


# ----- 1. fires per second -----------------------------------------------------------------

_FIRE_AT = int(datetime(2026, 1, 5, 10, 0, tzinfo=UTC).timestamp() * 1000)


# kind -> (body template, cron expression, period to the next slot; None: deleted after run)
_FIRE_KINDS: dict[str, tuple[str, str, int | None]] = {
    "one-shot": (body_template(ScheduleKind.AT, delete_after_run=True), "", None),
    "every 1 h": (body_template(ScheduleKind.EVERY, every_ms=HOUR_MS), "", HOUR_MS),
    # 18:00 in Shanghai is _FIRE_AT (10:00 UTC): the daily reminder everyone sets.
    "cron daily": (body_template(ScheduleKind.CRON, tz="Asia/Shanghai"), "0 18 * * *", DAY_MS),
}


async def fire_once(workdir: Path, kind: str, jobs: int, run_index: int) -> dict[str, Any]:
    """Fire ``jobs`` jobs due at one instant with ``tick`` + ``drain``; time and verify it."""
    path = workdir / f"fires-{run_index}-{kind.replace(' ', '-')}.db"
    async with fake_clock_engine(path) as (store, engine, clock, executor):
        template, expr, period = _FIRE_KINDS[kind]
        ids = [f"f{i:07d}" for i in range(jobs)]
        await insert_rows(store, [job_row(template, i, 1, _FIRE_AT, 0, expr) for i in ids])

        clock.set(_FIRE_AT)
        cpu0, t0 = time.process_time(), time.perf_counter()
        started = await engine.tick()
        t1 = time.perf_counter()
        await engine.drain()
        cpu2, t2 = time.process_time(), time.perf_counter()

        check(started == jobs, f"{kind}: tick started {started} runs, expected {jobs}")
        ran = Counter(job_id for job_id, _, _ in executor.calls)
        check(set(ran) == set(ids), f"{kind}: not every job ran")
        check(set(ran.values()) == {1}, f"{kind}: some job ran more than once")
        check(
            await scalar(store, "SELECT count(*) FROM runs") == jobs,
            f"{kind}: expected {jobs} run rows",
        )
        finished = await scalar(
            store,
            "SELECT count(*) FROM runs WHERE status='ok' AND delivery='delivered' "
            "AND ended_at IS NOT NULL",
        )
        check(finished == jobs, f"{kind}: only {finished} of {jobs} run rows are finished ok")
        if period is None:
            left = await scalar(store, "SELECT count(*) FROM jobs")
            check(left == 0, f"{kind}: {left} jobs left, all should be deleted")
        else:
            moved = await scalar(
                store,
                "SELECT count(*) FROM jobs WHERE enabled=1 AND running_run_id IS NULL "
                "AND next_run_at=?",
                (_FIRE_AT + period,),
            )
            check(moved == jobs, f"{kind}: only {moved} of {jobs} jobs moved to the next slot")
        check(await engine.tick() == 0, f"{kind}: a second tick at the same instant fired")
    return {
        "kind": kind,
        "jobs": jobs,
        "seconds": t2 - t0,
        "tick_seconds": t1 - t0,
        "cpu_seconds": cpu2 - cpu0,
        "fires_per_s": jobs / (t2 - t0),
    }


async def bench_fires(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Section 1: fires per second, each kind ``plan.fire_repeats`` times."""
    heading(f"1. fires per second: {plan.fire_jobs} jobs due at one instant, tick + drain")
    say("   (claim, execute, apply, history row; executor succeeds at once; fake clock;")
    say("    one-shots are deleted after the run, recurring jobs move to their next slot;")
    say("    CPU = process time of all threads: wall well above CPU means other load on the box)")
    results: dict[str, Any] = {}
    for kind in _FIRE_KINDS:
        runs = [
            await fire_once(workdir, kind, plan.fire_jobs, index)
            for index in range(plan.fire_repeats)
        ]
        rates = sorted(r["fires_per_s"] for r in runs)
        median = statistics.median(rates)
        per_cpu = statistics.median(r["jobs"] / r["cpu_seconds"] for r in runs)
        results[kind] = {
            "runs": runs,
            "median_fires_per_s": median,
            "median_fires_per_cpu_s": per_cpu,
        }
        say(
            f"   {kind:<10}  median {median:>6,.0f} fires/s  (runs {rates[0]:,.0f} .. "
            f"{rates[-1]:,.0f}/s)   per run: {ms(statistics.median(r['seconds'] for r in runs))}"
            f" wall, {ms(statistics.median(r['cpu_seconds'] for r in runs))} CPU, tick returned "
            f"after {ms(statistics.median(r['tick_seconds'] for r in runs))}"
        )
    return results


# ----- 2. fire lateness --------------------------------------------------------------------

_LEAD_MS = 1_500  # the first job is due this long after the insert starts


async def lateness_case(workdir: Path, case: LatenessCase, seed: int) -> dict[str, Any]:
    """Insert ``case.jobs`` one-shot reminders due over the next ``case.span_ms``, let the
    real timer fire them, and measure executor-call time minus due slot."""
    store = Store(workdir / f"lateness-{case.key}.db")
    await store.open()
    executor = InstantExecutor()
    engine = Engine(store, executor, Settings())  # the real SystemClock
    try:
        await engine.start(timer=True)
        await asyncio.sleep(0.05)  # the timer arms on an empty store
        template = body_template(ScheduleKind.AT, delete_after_run=True)
        rng = random.Random(seed)
        offsets = sorted(rng.randrange(case.span_ms) for _ in range(case.jobs))
        base = SystemClock().now_ms() + _LEAD_MS
        ids = [f"l{i:07d}" for i in range(case.jobs)]
        rows = [
            job_row(template, job_id, i % 97, base + offset, base)
            for i, (job_id, offset) in enumerate(zip(ids, offsets, strict=True))
        ]
        await insert_rows(store, rows)
        inserted_at = SystemClock().now_ms()
        check(inserted_at < base, f"{case.key}: the insert ended after the first job was due")
        engine.nudge()

        deadline = base + case.span_ms + 15_000
        while len(executor.calls) < case.jobs and SystemClock().now_ms() < deadline:
            await asyncio.sleep(0.05)
        await engine.drain()

        ran = Counter(job_id for job_id, _, _ in executor.calls)
        check(set(ran) == set(ids), f"{case.key}: {case.jobs - len(ran)} jobs never ran")
        check(set(ran.values()) == {1}, f"{case.key}: some job ran more than once")
        finished = await scalar(
            store, "SELECT count(*) FROM runs WHERE status='ok' AND ended_at IS NOT NULL"
        )
        check(finished == case.jobs, f"{case.key}: only {finished} run rows finished ok")
        check(
            await scalar(store, "SELECT count(*) FROM jobs") == 0,
            f"{case.key}: one-shot jobs were left behind",
        )
    finally:
        await engine.stop()
        await store.close()

    check(all(slot is not None for _, slot, _ in executor.calls), "a run had no slot")
    lateness = sorted(called - (slot or 0) for _, slot, called in executor.calls)
    return {
        "key": case.key,
        "label": case.label,
        "jobs": case.jobs,
        "span_ms": case.span_ms,
        "p50_ms": percentile(lateness, 0.50),
        "p90_ms": percentile(lateness, 0.90),
        "p99_ms": percentile(lateness, 0.99),
        "max_ms": lateness[-1],
        "mean_ms": statistics.fmean(lateness),
        "over_25ms": sum(1 for v in lateness if v > 25),
        "target_p99_ms": case.target_p99_ms,
    }


async def bench_lateness(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Section 2: fire lateness in each of the plan's scenarios."""
    heading("2. fire lateness: executor call minus due slot (real clock, real timer loop)")
    say("   (one-shot reminders at random ms over the span, bulk-inserted, then a nudge)")
    results: dict[str, Any] = {}
    for seed, case in enumerate(plan.lateness, start=1):
        r = await lateness_case(workdir, case, seed)
        results[case.key] = r
        say(
            f"   {case.label:<34} p50 {r['p50_ms']:6.2f}  p90 {r['p90_ms']:6.2f}  "
            f"p99 {r['p99_ms']:6.2f}  max {r['max_ms']:7.2f} ms   "
            f"(> 25 ms: {r['over_25ms']} of {r['jobs']})"
        )
    return results


# ----- 3. start-up time and memory ---------------------------------------------------------


def startup_db(size: int, *, rebuild: bool = False) -> Path:
    """A database with ``size`` stored jobs, all due in the future; cached between runs."""
    _CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # The name carries the schema version and a digest of the job bodies, so a file built
    # for an older schema or model is rebuilt instead of measured.
    digest = hashlib.sha256(repr(sorted(_startup_templates().items())).encode()).hexdigest()
    stem = f"stored-{size}-"
    path = _CACHE_DIR / f"{stem}schema{SCHEMA_VERSION}-f{_DB_FORMAT}-{digest[:10]}.db"
    if not rebuild and _cached_db_usable(path, size):
        say(f"   using cached {path} ({path.stat().st_size / 2**20:,.0f} MiB)")
        return path
    for stale in _CACHE_DIR.glob(f"{stem}*.db*"):  # this one, and older versions of it
        stale.unlink()
    t0 = time.perf_counter()
    asyncio.run(_create_schema(path))
    _fill_db(path, size)
    say(
        f"   built {path} with {size:,} jobs in {time.perf_counter() - t0:.1f} s "
        f"({path.stat().st_size / 2**20:,.0f} MiB)"
    )
    return path


def _cached_db_usable(path: Path, size: int) -> bool:
    """A cached file holds ``size`` jobs and none of them will be due for a while."""
    if not path.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            count, earliest = db.execute("SELECT count(*), min(next_run_at) FROM jobs").fetchone()
    except sqlite3.Error:
        return False
    if count != size:
        return False
    return earliest is None or earliest > time.time() * 1000 + _CACHE_MIN_LEAD_MS


async def _create_schema(path: Path) -> None:
    """Let the store create the schema (migrations, WAL), so the layout is the real one."""
    store = Store(path)
    await store.open()
    await store.close()


_STARTUP_INTERVALS = (HOUR_MS, 6 * HOUR_MS, DAY_MS, 7 * DAY_MS)


def _startup_templates() -> dict[str, str]:
    """The job bodies of the start-up databases, by kind."""
    templates = {
        f"every {ms}": body_template(ScheduleKind.EVERY, every_ms=ms) for ms in _STARTUP_INTERVALS
    }
    templates["cron"] = body_template(ScheduleKind.CRON)
    templates["at"] = body_template(ScheduleKind.AT, delete_after_run=True)
    return templates


def _fill_db(path: Path, size: int, chunk: int = 100_000) -> None:
    """Insert ``size`` jobs with ``executemany`` in big transactions on a plain connection.

    The mix: 70 % ``every`` (1 h to 7 d), 20 % monthly cron, 10 % one-shots; next runs spread
    over the next 30 days (cron over 27, so the stored next run is the true next fire), none
    within ``_CACHE_MIN_LEAD_MS``; owners spread over 10 000 users.
    """
    if size == 0:
        return
    now = int(time.time() * 1000)
    earliest = now + _CACHE_MIN_LEAD_MS + HOUR_MS
    templates = _startup_templates()
    every = {ms: templates[f"every {ms}"] for ms in _STARTUP_INTERVALS}
    cron, one_shot = templates["cron"], templates["at"]
    rng = random.Random(size)

    def rows(start: int, stop: int) -> Iterator[JobRow]:
        for i in range(start, stop):
            job_id, owner = scrambled_id(i), rng.randrange(10_000)
            pick = rng.random()
            if pick < 0.7:
                interval = rng.choice(_STARTUP_INTERVALS)
                due = earliest + rng.randrange(30 * DAY_MS)
                yield job_row(every[interval], job_id, owner, due, now)
            elif pick < 0.9:
                due = (earliest + rng.randrange(27 * DAY_MS)) // MINUTE_MS * MINUTE_MS
                wall = datetime.fromtimestamp(due / 1000, UTC)
                expr = f"{wall.minute} {wall.hour} {wall.day} * *"
                yield job_row(cron, job_id, owner, due, now, expr)
            else:
                due = earliest + rng.randrange(30 * DAY_MS)
                yield job_row(one_shot, job_id, owner, due, now)

    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-262144")
        for start in range(0, size, chunk):
            db.execute("BEGIN")
            db.executemany(_INSERT_SQL, rows(start, min(size, start + chunk)))
            db.execute("COMMIT")
        db.execute("ANALYZE")
        db.execute("PRAGMA journal_mode=WAL")


def startup_child(path: Path, integrity_check: bool) -> dict[str, Any]:
    """In a fresh process: open the store and start the engine; time it and read memory.

    "Before" is taken after every import, so the growth is what opening and starting cost.
    """
    logging.basicConfig(level=logging.WARNING)
    before = {
        "rss_before_kib": proc_status_kib("VmRSS"),
        "hwm_before_kib": proc_status_kib("VmHWM"),
        "ru_maxrss_before_kib": max_rss_kib(),
    }

    async def run() -> dict[str, Any]:
        clock = ArmWatchClock()
        executor = InstantExecutor()
        store = Store(path)
        t0 = time.perf_counter()
        await store.open(integrity_check=integrity_check)
        t1 = time.perf_counter()
        engine = Engine(store, executor, Settings(), clock=clock)
        await engine.start(timer=True)
        t2 = time.perf_counter()
        await clock.armed.wait()
        t3 = time.perf_counter()
        after = {
            "rss_after_kib": proc_status_kib("VmRSS"),
            "hwm_after_kib": proc_status_kib("VmHWM"),
            "ru_maxrss_after_kib": max_rss_kib(),
        }
        armed_on = await store.next_due_at()  # what the timer armed on (and status shows)
        await engine.stop()
        await store.close()
        return after | {
            "open_s": t1 - t0,
            "start_s": t2 - t1,
            "arm_s": t3 - t2,
            "total_s": t3 - t0,
            "fired": len(executor.calls),
            "armed_on": armed_on,
        }

    result = before | asyncio.run(run())
    result["rss_growth_kib"] = result["rss_after_kib"] - result["rss_before_kib"]
    result["peak_growth_kib"] = result["hwm_after_kib"] - result["rss_before_kib"]
    return result


def warm_page_cache(path: Path) -> None:
    """Read a database's files once, so the "warm" runs find them in the OS page cache."""
    for suffix in ("", "-wal"):
        name = Path(f"{path}{suffix}")
        if name.exists():
            with name.open("rb") as file:
                while file.read(8 << 20):
                    pass


def drop_page_cache(path: Path) -> None:
    """Evict one database's files from the OS page cache (``POSIX_FADV_DONTNEED`` on just
    these files, no privileges needed), so the next start reads from disk: a cold start."""
    for suffix in ("", "-wal", "-shm"):
        name = Path(f"{path}{suffix}")
        if not name.exists():
            continue
        fd = os.open(name, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def run_child(path: Path, integrity_check: bool) -> dict[str, Any]:
    """Run ``startup_child`` in a new interpreter and return its figures."""
    command = [sys.executable, "-m", "bench.engine", "--startup-child", str(path)]
    if not integrity_check:
        command.append("--no-integrity-check")
    done = subprocess.run(
        command,
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchFailure(f"start-up child failed:\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def bench_startup(plan: Plan, rebuild: bool) -> dict[str, Any]:
    """Section 3: start-up time and memory, warm and cold, per stored-job count."""
    heading("3. start-up: Store.open() + Engine.start() + first arm, fresh process each")
    say("   (all jobs due in the future, so nothing fires; the plugin's default open, with its")
    say(f"    integrity check; warm = file in the OS page cache, median of {plan.startup_repeats};")
    say("    cold = file evicted from the page cache first; growth = RSS after start - RSS after")
    say("    imports, same process; peak = VmHWM, as ru_maxrss is inherited over fork + exec)")
    paths = {size: startup_db(size, rebuild=rebuild) for size in plan.startup_sizes}
    results: dict[str, Any] = {}
    for size, path in paths.items():
        say(f"   starting with {size:,} stored jobs ...")
        with contextlib.closing(sqlite3.connect(path)) as db:
            earliest = db.execute("SELECT min(next_run_at) FROM jobs").fetchone()[0]
        warm_page_cache(path)
        runs = [run_child(path, True) for _ in range(plan.startup_repeats)]
        unchecked = run_child(path, False)
        drop_page_cache(path)
        cold_unchecked = run_child(path, False)
        drop_page_cache(path)
        cold = run_child(path, True)
        for r in [*runs, unchecked, cold_unchecked, cold]:
            check(r["fired"] == 0, f"{size:,} jobs: {r['fired']} fired at start-up, none is due")
            check(r["armed_on"] == earliest, f"{size:,} jobs: armed on {r['armed_on']}")

        def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return float(statistics.median(r[key] for r in runs))

        entry = {
            "size": size,
            "db_mib": path.stat().st_size / 2**20,
            "runs": runs,
            "no_integrity_check": unchecked,
            "cold": cold,
            "cold_no_integrity_check": cold_unchecked,
            "total_s": med("total_s"),
            "open_s": med("open_s"),
            "start_s": med("start_s"),
            "arm_s": med("arm_s"),
            "open_unchecked_s": unchecked["open_s"],
            "total_unchecked_s": unchecked["total_s"],
            "cold_total_s": cold["total_s"],
            "cold_total_unchecked_s": cold_unchecked["total_s"],
            "rss_before_mib": mib(med("rss_before_kib")),
            "rss_after_mib": mib(med("rss_after_kib")),
            "rss_growth_mib": mib(med("rss_growth_kib")),
            "peak_growth_mib": mib(med("peak_growth_kib")),
        }
        results[str(size)] = entry
    say()
    say(
        f"   {'stored jobs':>11}  {'file':>9}  {'warm: total':>11}  {'open':>7}  {'start':>6}  "
        f"{'arm':>5}  {'w/o check':>9}  {'cold: total':>11}  {'w/o check':>9}"
    )
    for e in results.values():
        say(
            f"   {e['size']:>11,}  {e['db_mib']:>5,.0f} MiB  {ms(e['total_s']):>11}  "
            f"{ms(e['open_s']):>7}  {ms(e['start_s']):>6}  {ms(e['arm_s']):>5}  "
            f"{ms(e['total_unchecked_s']):>9}  {ms(e['cold_total_s']):>11}  "
            f"{ms(e['cold_total_unchecked_s']):>9}"
        )
    say()
    for e in results.values():
        shown = ", ".join(ms(r["total_s"]) for r in e["runs"])
        say(f"   {e['size']:>11,}  warm runs: {shown}")
    say()
    say(
        f"   {'stored jobs':>11}  {'RSS before':>10}  {'RSS after':>10}  {'growth':>9}  "
        f"{'peak (VmHWM) growth':>19}"
    )
    for e in results.values():
        say(
            f"   {e['size']:>11,}  {e['rss_before_mib']:>6.1f} MiB  {e['rss_after_mib']:>6.1f} MiB  "
            f"{e['rss_growth_mib']:>5.1f} MiB  {e['peak_growth_mib']:>15.1f} MiB"
        )
    empty = results.get("0")
    if empty:
        say()
        for entry in results.values():
            if entry["size"] == 0:
                continue
            entry["rss_growth_vs_empty_mib"] = entry["rss_growth_mib"] - empty["rss_growth_mib"]
            entry["peak_growth_vs_empty_mib"] = entry["peak_growth_mib"] - empty["peak_growth_mib"]
            say(
                f"   {entry['size']:>11,} jobs vs an empty store: RSS after start "
                f"{entry['rss_growth_vs_empty_mib']:+.1f} MiB, peak "
                f"{entry['peak_growth_vs_empty_mib']:+.1f} MiB"
            )
    return results


# ----- 4. next-run computation -------------------------------------------------------------


def bench_next_run(plan: Plan) -> dict[str, Any]:
    """Section 4: the cost of one ``next_run_after`` call per schedule kind."""
    heading(f"4. next_run_after: µs per call, {plan.next_run_calls:,} calls per schedule")
    say('   ("after" instants at random over 2026; mean = best of 3 plain loops; p50/p99 from')
    say("    timing each call on its own; cron's per-instant result cache cleared first, so")
    say("    this is the computation; jobs sharing a schedule and instant hit the cache)")
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
    rng = random.Random(4)
    afters = [start + rng.randrange(365 * DAY_MS) for _ in range(plan.next_run_calls)]
    cases = {
        "cron '0 9 * * mon-fri' Europe/Berlin": Schedule(
            kind=ScheduleKind.CRON, expr="0 9 * * mon-fri", tz="Europe/Berlin"
        ),
        "cron '*/15 * * * *' Asia/Shanghai": Schedule(
            kind=ScheduleKind.CRON, expr="*/15 * * * *", tz="Asia/Shanghai"
        ),
        "every 1 h": Schedule(kind=ScheduleKind.EVERY, every_ms=HOUR_MS, anchor_ms=start),
        "at (one-shot)": Schedule(kind=ScheduleKind.AT, at_ms=start + 400 * DAY_MS),
    }
    results: dict[str, Any] = {}
    for label, schedule in cases.items():
        for after in afters[:200]:  # warm the zone and cron caches
            next_run_after(schedule, after)
        timings = _time_calls(schedule, afters)
        loops = []
        for _ in range(3):  # the best of three plain loops, like timeit
            next_cron_after.cache_clear()  # the computation itself, not the result cache
            t0 = time.perf_counter()
            for after in afters:
                next_run_after(schedule, after)
            loops.append(time.perf_counter() - t0)
        mean_us = min(loops) / len(afters) * 1e6
        results[label] = {
            "mean_us": mean_us,
            "p50_us": percentile(timings, 0.50),
            "p99_us": percentile(timings, 0.99),
        }
        say(
            f"   {label:<38} mean {mean_us:8.2f} µs   p50 {results[label]['p50_us']:8.2f}   "
            f"p99 {results[label]['p99_us']:8.2f} µs"
        )
    return results


def _time_calls(schedule: Schedule, afters: Iterable[int]) -> list[float]:
    """Each ``next_run_after`` call's duration in µs, ascending (result cache cleared)."""
    next_cron_after.cache_clear()
    timings = []
    clock = time.perf_counter_ns
    for after in afters:
        t0 = clock()
        next_run_after(schedule, after)
        timings.append((clock() - t0) / 1000)
    timings.sort()
    return timings


# ----- summary -----------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    """One line of the summary table."""

    figure: str
    measured: str
    target: str
    verdict: str  # "ok", "short" or "report" (no target)


def verdict(ok: bool) -> str:
    """``ok`` when a figure meets its target, ``short`` when it does not."""
    return "ok" if ok else "short"


def floor_rows(results: dict[str, Any]) -> list[Row]:
    """SPEC §10's ratios to the floors of this same run: fires/s at least a fifth of the
    batched-claim rate, idle lateness p99 within 2.5 ms of the timer's own."""
    floor = results.get("floor")
    if not floor:
        return []
    rows = []
    for kind, r in results.get("fires", {}).items():
        ratio = r["median_fires_per_s"] / floor["claims_per_s"]
        rows.append(
            Row(f"fires/s ÷ batched-claim floor ({kind})",
                f"{ratio:.2f} ({floor['claims_per_s']:,.0f} claims/s)", "≥ 0.20",
                verdict(ratio >= 0.2))
        )  # fmt: skip
    idle = results.get("lateness", {}).get("idle")
    if idle:
        over = idle["p99_ms"] - floor["timer_p99_ms"]
        rows.append(
            Row("idle lateness p99 − timer's own p99", f"{over:+.2f} ms "
                f"(timer p99 {floor['timer_p99_ms']:.2f} ms)", "≤ 2.5 ms", verdict(over <= 2.5))
        )  # fmt: skip
    per_fire, floor_cpu = floor["engine_cpu_per_fire_s"], floor["floor_cpu_per_fire_s"]
    rows.append(
        Row("CPU per fire, fires one by one", f"{per_fire * 1000:.2f} ms "
            f"({per_fire / floor_cpu:.1f}x the {floor_cpu * 1000:.2f} ms floor)", "report",
            "report")
    )  # fmt: skip
    return rows


def summarize(plan: Plan, results: dict[str, Any]) -> list[Row]:
    """The summary table: each figure next to its SPEC §10 target (or "report")."""
    rows: list[Row] = []
    for kind, r in results.get("fires", {}).items():
        rate = r["median_fires_per_s"]
        rows.append(
            Row(
                f"fires/s, {plan.fire_jobs:,} due at once ({kind})",
                f"{rate:,.0f}/s ({r['median_fires_per_cpu_s']:,.0f} per CPU-second)",
                "≥ 10,000/s",
                verdict(rate >= 10_000),
            )
        )
    for r in results.get("lateness", {}).values():
        target = r["target_p99_ms"]
        measured = f"p99 {r['p99_ms']:.2f} ms (p50 {r['p50_ms']:.2f}, max {r['max_ms']:.1f})"
        if target is None:
            rows.append(Row(f"lateness, {r['label']}", measured, "report", "report"))
        else:
            rows.append(
                Row(
                    f"lateness, {r['label']}",
                    measured,
                    f"p99 ≤ {target:g} ms",
                    verdict(r["p99_ms"] <= target),
                )
            )
    startup = results.get("startup", {})
    for entry in startup.values():
        size = entry["size"]
        if size == 0:
            continue
        big = size >= 1_000_000
        for cache, total, unchecked in (
            ("warm", entry["total_s"], entry["total_unchecked_s"]),
            ("cold", entry["cold_total_s"], entry["cold_total_unchecked_s"]),
        ):
            rows.append(
                Row(
                    f"start-up, {size:,} stored jobs, {cache} cache",
                    f"{ms(total)} (w/o integrity check {ms(unchecked)})",
                    "≤ 1 s" if big else "report",
                    verdict(total <= 1.0) if big else "report",
                )
            )
        growth = entry.get("rss_growth_vs_empty_mib")
        if growth is not None:
            rows.append(
                Row(
                    f"RSS growth, 0 → {size:,} stored jobs",
                    f"{growth:+.1f} MiB (peak {entry['peak_growth_vs_empty_mib']:+.1f} MiB)",
                    "≤ 10 MB" if big else "report",
                    verdict(growth * 1.048576 <= 10) if big else "report",
                )
            )
    rows += floor_rows(results)
    for label, r in results.get("next_run", {}).items():
        rows.append(
            Row(
                f"next_run_after, {label}",
                f"{r['mean_us']:.1f} µs/call (p99 {r['p99_us']:.1f})",
                "report",
                "report",
            )
        )
    return rows


def print_summary(rows: list[Row]) -> None:
    """Print the summary table."""
    heading("summary")
    widths = [max(len(getattr(r, name)) for r in rows) for name in ("figure", "measured")]
    target_width = max(len(r.target) for r in rows)
    say(f"   {'figure':<{widths[0]}}  {'measured':<{widths[1]}}  {'target':<{target_width}}  ok?")
    say("   " + "-" * (widths[0] + widths[1] + target_width + 11))
    for r in rows:
        say(
            f"   {r.figure:<{widths[0]}}  {r.measured:<{widths[1]}}  "
            f"{r.target:<{target_width}}  {r.verdict}"
        )


# ----- entry point -------------------------------------------------------------------------

SECTIONS = ("floor", "fires", "lateness", "startup", "next-run")


def banner(title: str, extra_versions: str = "") -> str:
    """The first line of every benchmark's printout: what ran, on what, and how busy the
    machine was (the figures depend on it)."""
    return (
        f"{title} — Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
        f"{extra_versions}, {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"load average {load_average()}"
    )


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews every figure."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (``--startup-child`` is internal: one start-up measurement)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine", description="Engine benchmarks (SPEC §10)."
    )
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write figures as JSON")
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="run only this section (repeatable)"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the cached start-up databases"
    )
    parser.add_argument("--startup-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-integrity-check", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sections asked for, print the figures and the summary, maybe write JSON."""
    args = parse_args(argv)
    if args.startup_child is not None:
        print(json.dumps(startup_child(args.startup_child, not args.no_integrity_check)))
        return 0
    logging.basicConfig(level=logging.WARNING)
    plan = QUICK if args.quick else FULL
    sections = args.only or list(SECTIONS)
    began = time.perf_counter()
    say(banner(f"future tasks engine benchmark ({plan.name})"))
    results: dict[str, Any] = {"plan": plan.name, "load_average_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="future-tasks-bench-") as tmp:
        workdir = Path(tmp)
        if "floor" in sections:
            results["floor"] = asyncio.run(bench_floor(plan, workdir))
        if "fires" in sections:
            results["fires"] = asyncio.run(bench_fires(plan, workdir))
        if "lateness" in sections:
            results["lateness"] = asyncio.run(bench_lateness(plan, workdir))
    if "startup" in sections:
        results["startup"] = bench_startup(plan, args.rebuild)
    if "next-run" in sections:
        results["next_run"] = bench_next_run(plan)
    rows = summarize(plan, results)
    print_summary(rows)
    results["summary"] = [
        {"figure": r.figure, "measured": r.measured, "target": r.target, "verdict": r.verdict}
        for r in rows
    ]
    results["wall_s"] = time.perf_counter() - began
    results["load_average_end"] = os.getloadavg()
    say(f"\n   wall time {results['wall_s']:.1f} s, load average now {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        say(f"   figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
