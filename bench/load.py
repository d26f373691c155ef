"""Load benchmark (SPEC §10, issue 5): a big store with a minute of heavy firing.

Run from the repository root::

    .venv/bin/python -m bench.load                 # full run: 10 000 due over 60 s (~1.5 min)
    .venv/bin/python -m bench.load --quick         # 2 000 due over 12 s (same density)
    .venv/bin/python -m bench.load --json out.json # also write the figures as JSON

The scenario: 100 000 stored jobs, of which 10 000 (one-shots, ``every`` jobs and a cluster of
cron jobs on the whole minute) fall due over one minute, fired by the real timer loop on the
real clock. A few plain reminders are created through the service during the load, like a user
typing ``/cron add 2s …``; their lateness is reported on its own, because "a slow burst never
delays a plain reminder" is what a user notices. Figures: lateness (executor call minus due
slot) p50/p95/p99/max, fires/s, CPU time, RSS before, during (sampled) and after.

The job mix and the after-the-run check live here too (``due_jobs``, ``later_jobs``,
``load_problems``): ``tests/unit/test_load.py`` drives the same load with a fake clock, so the
benchmark and the correctness test cannot drift apart. A figure is printed only after the
bookkeeping check passed (each due job ran once, for its slot, and was recorded).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import itertools
import json
import logging
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.engine import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    ArmWatchClock,
    BenchFailure,
    InstantExecutor,
    JobRow,
    Row,
    banner,
    body_template,
    heading,
    insert_rows,
    job_row,
    load_average,
    percentile,
    print_summary,
    proc_status_kib,
    say,
    verdict,
)
from core.clock import SystemClock
from core.engine import Engine
from core.errors import StoreError
from core.models import ScheduleKind
from core.service import Actor, JobSpec, TaskService
from core.settings import Settings
from core.store import Store

# ----- the load: which jobs are stored, and what each must look like after the run ---------

DELETED = "deleted"  # a one-shot with delete_after_run: gone after its run
DISABLED = "disabled"  # a one-shot kept after its run: disabled, no next run
_OWNERS = 10_000
_INSERT_CHUNK = 10_000  # rows per insert transaction: bounds the memory the rows take


@dataclass(frozen=True, slots=True)
class Planned:
    """One stored job and what must become of it.

    ``then`` is ``None`` for a job that must not run (it keeps ``due`` as its next run),
    else what it looks like after its one run: ``DELETED``, ``DISABLED`` or the instant of
    its next slot."""

    job_id: str
    kind: str
    due: int
    then: int | str | None


@dataclass(frozen=True, slots=True)
class Burst:
    """When the due jobs fall: ``jobs`` over ``[start, start + span_ms)``.

    ``cron_jobs`` of them are cron jobs firing at ``cron_at`` (a whole minute, as every cron
    slot is); the others fall at random milliseconds, or on ``instants`` distinct instants
    when set (a fake-clock test costs one timer cycle per instant)."""

    start: int
    span_ms: int
    jobs: int
    cron_jobs: int = 0
    cron_at: int | None = None
    instants: int | None = None


# Intervals short enough to show the next slot, long enough not to come due again in the run.
_DUE_EVERY_MS = (15 * MINUTE_MS, HOUR_MS, 6 * HOUR_MS, DAY_MS)
_LATER_EVERY_MS = (HOUR_MS, 6 * HOUR_MS, DAY_MS, 7 * DAY_MS)
# The due jobs that are not cron: (kind, upper bound of its share on a 0..1 draw).
_DUE_MIX = (("one-shot", 0.4), ("one-shot kept", 0.5), ("every", 1.0))


@functools.cache
def _template(
    kind: ScheduleKind, every_ms: int | None = None, tz: str = "UTC", delete: bool = False
) -> str:
    """A job body template (one pydantic dump per kind, then string formatting per row)."""
    return body_template(kind, every_ms=every_ms, tz=tz, delete_after_run=delete)


def minute_in(start: int, span_ms: int) -> int | None:
    """The first whole minute in ``[start, start + span_ms)``, where cron jobs can be due."""
    boundary = -(-start // MINUTE_MS) * MINUTE_MS
    return boundary if boundary < start + span_ms else None


def cron_cases(cron_at: int) -> list[tuple[str, str, int]]:
    """Cron schedules that fire at ``cron_at``: (template, expression, period to the next
    fire). The periods are known by construction (UTC and Asia/Shanghai have no DST), so
    the check does not lean on the engine's own cron code."""
    if cron_at % MINUTE_MS:
        raise ValueError(f"cron_at {cron_at} is not a whole minute")
    utc = datetime.fromtimestamp(cron_at / 1000, UTC)
    local = utc.astimezone(ZoneInfo("Asia/Shanghai"))
    plain, shanghai = _template(ScheduleKind.CRON), _template(ScheduleKind.CRON, tz="Asia/Shanghai")
    return [
        (plain, f"{utc.minute} {utc.hour} * * *", DAY_MS),
        (plain, f"{utc.minute} * * * *", HOUR_MS),
        (plain, f"{utc.minute} {utc.hour} * * {utc.isoweekday() % 7}", 7 * DAY_MS),
        (shanghai, f"{local.minute} {local.hour} * * *", DAY_MS),
    ]


def job_id(index: int) -> str:
    """A unique 8-character id that looks random (``index`` times an odd constant, modulo
    2**32, in hex): one format call per id, where ``bench.engine.scrambled_id``'s base-36
    loop costs most of a second per 100 000 ids in a test meant to take a few seconds."""
    return f"{index * 2_654_435_761 % 2**32:08x}"


def _pick[T](draw: Callable[[], float], items: Sequence[T]) -> T:
    """One of ``items`` at random (``random.choice`` costs several times more per row)."""
    return items[int(draw() * len(items))]


def due_jobs(burst: Burst, rng: random.Random) -> Iterator[tuple[JobRow, Planned]]:
    """The jobs that fall due in the burst (ids ``job_id(0 .. jobs-1)``)."""
    if burst.cron_jobs and burst.cron_at is None:
        raise ValueError("cron jobs need a whole minute inside the burst")
    crons = cron_cases(burst.cron_at) if burst.cron_jobs and burst.cron_at is not None else []
    offsets = rng.sample(range(burst.span_ms), burst.instants) if burst.instants else None
    every = [(_template(ScheduleKind.EVERY, ms), ms) for ms in _DUE_EVERY_MS]
    draw, created = rng.random, burst.start - DAY_MS
    for index in range(burst.jobs):
        job, owner = job_id(index), int(draw() * _OWNERS)
        if index < burst.cron_jobs:
            template, expr, period = crons[index % len(crons)]
            due = burst.cron_at or 0
            yield (
                job_row(template, job, owner, due, created, expr),
                Planned(job, "cron", due, due + period),
            )
            continue
        due = burst.start + (_pick(draw, offsets) if offsets else int(draw() * burst.span_ms))
        share = draw()
        kind = next(name for name, bound in _DUE_MIX if share < bound)
        if kind == "every":
            template, every_ms = _pick(draw, every)
            then: int | str = due + every_ms
        else:
            kept = kind == "one-shot kept"
            template = _template(ScheduleKind.AT, delete=not kept)
            then = DISABLED if kept else DELETED
        yield job_row(template, job, owner, due, created), Planned(job, kind, due, then)


def later_jobs(
    first_index: int, count: int, later_from: int, near: int, rng: random.Random
) -> Iterator[tuple[JobRow, Planned]]:
    """Jobs due after the burst, which must not run: ``near`` of them within a minute of
    ``later_from`` (a sharp edge for "nothing else ran"), the rest over the 30 days after;
    70 % ``every``, 20 % monthly cron, 10 % one-shots, like the start-up bench's databases."""
    cron = _template(ScheduleKind.CRON)
    one_shot = _template(ScheduleKind.AT, delete=True)
    every = [_template(ScheduleKind.EVERY, ms) for ms in _LATER_EVERY_MS]
    draw, created = rng.random, later_from - DAY_MS
    for index in range(first_index, first_index + count):
        job, owner = job_id(index), int(draw() * _OWNERS)
        spread = MINUTE_MS if index - first_index < near else 30 * DAY_MS
        due = later_from + int(draw() * spread)
        pick = draw()
        if pick < 0.7:
            row = job_row(_pick(draw, every), job, owner, due, created)
        elif pick < 0.9:
            due = -(-due // MINUTE_MS) * MINUTE_MS  # cron slots are whole minutes
            wall = datetime.fromtimestamp(due / 1000, UTC)
            expr = f"{wall.minute} {wall.hour} {wall.day} * *"
            row = job_row(cron, job, owner, due, created, expr)
        else:
            row = job_row(one_shot, job, owner, due, created)
        yield row, Planned(job, "later", due, None)


async def store_jobs(
    store: Store, jobs: Iterable[tuple[JobRow, Planned]], chunk_rows: int = _INSERT_CHUNK
) -> list[Planned]:
    """Insert generated jobs a chunk per transaction and return what each must become.
    Small chunks keep the bench's memory baseline low; one big one inserts fastest."""
    planned: list[Planned] = []
    for chunk in itertools.batched(jobs, chunk_rows):
        await insert_rows(store, [row for row, _ in chunk])
        planned += [plan for _, plan in chunk]
    return planned


# ----- the check after the run ---------------------------------------------------------------


def _problem(what: str, ids: Collection[str]) -> list[str]:
    """``["3 due jobs never ran (e.g. a, b, c)"]``, or nothing when ``ids`` is empty."""
    if not ids:
        return []
    return [f"{len(ids)} {what} (e.g. {', '.join(sorted(ids)[:5])})"]


async def _rows(store: Store, sql: str) -> list[sqlite3.Row]:
    """All rows of a read-only query (the engine is stopped or idle)."""
    async with store.db.execute(sql) as cur:
        return list(await cur.fetchall())


def call_problems(plan: Sequence[Planned], calls: Sequence[tuple[str, int | None]]) -> list[str]:
    """Each due job was executed exactly once, for its slot; nothing else was executed."""
    due = {p.job_id: p.due for p in plan if p.then is not None}
    per_job = Counter(job_id for job_id, _ in calls)
    per_slot = Counter(calls)
    return [
        *_problem("due jobs never ran", [j for j in due if not per_job[j]]),
        *_problem("jobs ran more than once", [j for j, n in per_job.items() if n > 1]),
        *_problem("jobs that were not due ran", [j for j in per_job if j not in due]),
        *_problem(
            "jobs ran for a wrong slot",
            [j for j, slot in due.items() if per_job[j] == 1 and per_slot[(j, slot)] != 1],
        ),
    ]


async def run_row_problems(store: Store, plan: Sequence[Planned]) -> list[str]:
    """One finished run row per due job, for its slot: ok, delivered, on time; no others."""
    due = {p.job_id: p.due for p in plan if p.then is not None}
    rows = await _rows(
        store,
        "SELECT job_id, slot_at, trigger = 'schedule' AND status = 'ok' AND "
        "delivery = 'delivered' AND late = 0 AND ended_at >= started_at "
        "AND started_at >= slot_at FROM runs",
    )
    count = Counter(row[0] for row in rows)
    wrong = {job_id for job_id, slot, good in rows if not good or due.get(job_id) != slot}
    return [
        *_problem("due jobs have no run row", [j for j in due if not count[j]]),
        *_problem("jobs have more than one run row", [j for j, n in count.items() if n > 1]),
        *_problem("run rows are unfinished or do not match their slot", wrong),
    ]


def _expected_state(plan: Planned) -> tuple[object, ...] | None:
    """(enabled, next_run_at, next_slot_at, claimed, last_status) the job must have now;
    None: it must be gone."""
    if plan.then == DELETED:
        return None
    if plan.then == DISABLED:
        return (0, None, None, 0, "ok")
    if plan.then is None:
        return (1, plan.due, plan.due, 0, None)
    return (1, plan.then, plan.then, 0, "ok")


async def job_problems(store: Store, plan: Sequence[Planned], until: int) -> list[str]:
    """Every job is as its run (or its not running) left it; none is claimed, none due."""
    # The last status is read only where a run row exists: parsing 100 000 bodies would
    # double the check's time, and a job that ran without one is reported already.
    rows = await _rows(
        store,
        "SELECT id, enabled, next_run_at, next_slot_at, running_run_id IS NOT NULL, "
        "CASE WHEN id IN (SELECT job_id FROM runs) THEN json_extract(body, '$.last_status') "
        "END FROM jobs",
    )
    now = {row[0]: tuple(row[1:]) for row in rows}
    planned = {p.job_id: p for p in plan}
    wrong = [p.job_id for p in plan if now.get(p.job_id) != _expected_state(p)]
    due_left = await store.next_due_at()
    return [
        *_problem("jobs are left claimed", [j for j, state in now.items() if state[3]]),
        *_problem("jobs are not in the state their run should leave", wrong),
        *_problem("unknown jobs are in the store", [j for j in now if j not in planned]),
        *(
            [f"a job is still due at {due_left} (<= {until})"]
            if due_left and due_left <= until
            else []
        ),
    ]


async def load_problems(
    store: Store, plan: Sequence[Planned], calls: Iterable[tuple[str, int | None]], until: int
) -> list[str]:
    """Everything that went wrong in a load run, as sentences (empty: all is well).

    ``calls`` are the executor's (job id, slot) pairs; ``until`` is the last instant the
    engine looked at, so nothing may still be due by then. The store must also pass its
    integrity check."""
    calls = list(calls)
    problems = call_problems(plan, calls)
    problems += await run_row_problems(store, plan)
    problems += await job_problems(store, plan, until)
    try:
        await store.check_integrity_aside()
    except StoreError as exc:
        problems.append(str(exc))
    return problems


# ----- the benchmark -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """How big the run is; ``FULL`` is the SPEC §10 load, ``QUICK`` a smoke run."""

    name: str
    stored: int
    due: int
    span_ms: int
    cron_jobs: int  # due at the whole minute inside the span (if the span holds one)
    reminders: int  # plain reminders created through the service during the load
    target_p99_ms: float = 50.0


FULL = LoadPlan("full", stored=100_000, due=10_000, span_ms=60_000, cron_jobs=200, reminders=20)
# The same density as the full run (10 000 a minute), for a fifth of a minute.
QUICK = LoadPlan("quick", stored=100_000, due=2_000, span_ms=12_000, cron_jobs=40, reminders=6)

_LEAD_MS = 3_000  # the burst starts this long after its jobs are inserted
_GRACE_MS = 15_000  # how long after the burst the bench waits for stragglers
_REMINDER_AHEAD_S = 2  # each reminder is created this long before it is due
_RSS_EVERY_S = 0.2
_REMINDER_USER = Actor(origin="qq:FriendMessage:424242", sender_id="424242", sender_name="probe")


@dataclass
class Reminders:
    """The plain reminders created during the load: their jobs and how long creating took."""

    planned: list[Planned] = field(default_factory=list)
    create_ms: list[float] = field(default_factory=list)


async def create_reminders(service: TaskService, plan: LoadPlan, start: int) -> Reminders:
    """Create ``plan.reminders`` one-shots through the service, spread over the burst, each
    ``_REMINDER_AHEAD_S`` before it is due: a user typing ``/cron add 2s …`` mid-load."""
    made = Reminders()
    clock = SystemClock()
    for index in range(plan.reminders):
        due = start + (2 * index + 1) * plan.span_ms // (2 * plan.reminders)
        await asyncio.sleep(max(0.0, (due - _REMINDER_AHEAD_S * 1000 - clock.now_ms()) / 1000))
        t0 = time.perf_counter()
        spec = JobSpec(message=f"plain reminder {index}", run_at=f"{_REMINDER_AHEAD_S}s")
        job = await service.create(_REMINDER_USER, spec)
        made.create_ms.append((time.perf_counter() - t0) * 1000)
        made.planned.append(Planned(job.id, "reminder", job.next_run_at or 0, DELETED))
    return made


async def sample_rss(samples: list[tuple[float, int]], every_s: float) -> None:
    """Append (monotonic s, VmRSS KiB) every ``every_s`` until cancelled."""
    while True:
        samples.append((time.monotonic(), proc_status_kib("VmRSS")))
        await asyncio.sleep(every_s)


async def wait_for_calls(executor: InstantExecutor, expected: int, deadline_ms: int) -> None:
    """Poll until the executor saw ``expected`` calls or the deadline passed."""
    clock = SystemClock()
    while len(executor.calls) < expected and clock.now_ms() < deadline_ms:
        await asyncio.sleep(0.05)


def lateness_stats(values: Iterable[float]) -> dict[str, Any]:
    """p50/p95/p99/max of lateness figures in ms (and how many were over 50 ms)."""
    ordered = sorted(values)
    return {
        "fires": len(ordered),
        "p50_ms": percentile(ordered, 0.50),
        "p95_ms": percentile(ordered, 0.95),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": ordered[-1] if ordered else float("nan"),
        "over_50ms": sum(1 for v in ordered if v > 50),
    }


def lateness_by_group(
    calls: Sequence[tuple[str, int | None, float]], plan: Sequence[Planned]
) -> dict[str, dict[str, Any]]:
    """Lateness for all fires, for the plain reminders, and for each kind of due job."""
    kind = {p.job_id: p.kind for p in plan}
    groups: dict[str, list[float]] = defaultdict(list)
    for job_id, slot, called in calls:
        late = called - (slot or 0)
        groups["all fires"].append(late)
        groups[kind.get(job_id, "?")].append(late)
    order = ["all fires", "reminder", "one-shot", "one-shot kept", "every", "cron"]
    return {name: lateness_stats(groups[name]) for name in order if groups.get(name)}


def throughput(calls: Sequence[tuple[str, int | None, float]]) -> dict[str, Any]:
    """Fires per second over the burst, and the busiest second."""
    times = sorted(called for _, _, called in calls)
    span_s = max((times[-1] - times[0]) / 1000, 1e-9) if times else 0.0
    per_second = Counter(int((t - times[0]) // 1000) for t in times)
    return {
        "fires": len(times),
        "first_to_last_s": span_s,
        "mean_fires_per_s": len(times) / span_s if span_s else 0.0,
        "busiest_second_fires": max(per_second.values(), default=0),
    }


def rss_figures(
    start_kib: int, samples: Sequence[tuple[float, int]], after_kib: int
) -> dict[str, Any]:
    """RSS at start, during (sampled) and after the load, in MiB, and the growth."""
    during = [kib for _, kib in samples] or [start_kib]
    third = max(1, len(during) // 3)
    return {
        "start_mib": start_kib / 1024,
        "during_min_mib": min(during) / 1024,
        "during_median_mib": statistics.median(during) / 1024,
        "during_max_mib": max(during) / 1024,
        "first_third_median_mib": statistics.median(during[:third]) / 1024,
        "last_third_median_mib": statistics.median(during[-third:]) / 1024,
        "after_mib": after_kib / 1024,
        "growth_mib": (after_kib - start_kib) / 1024,
        "peak_growth_mib": (max([*during, after_kib]) - start_kib) / 1024,
        "samples": len(during),
    }


@dataclass
class Setup:
    """A store holding the later jobs, and an armed engine on the real clock."""

    store: Store
    engine: Engine
    executor: InstantExecutor
    later: list[Planned]
    insert_s: float


async def set_up(plan: LoadPlan, path: Path, rng: random.Random) -> Setup:
    """Open the store, insert the jobs due after the burst, start and arm the engine."""
    store = Store(path)
    await store.open()
    t0 = time.perf_counter()
    later_from = SystemClock().now_ms() + 2 * HOUR_MS  # well after the run ends
    later = await store_jobs(
        store, later_jobs(plan.due, plan.stored - plan.due, later_from, 0, rng)
    )
    insert_s = time.perf_counter() - t0
    clock = ArmWatchClock()
    executor = InstantExecutor()
    engine = Engine(store, executor, Settings(), clock=clock)
    await engine.start(timer=True)
    await clock.armed.wait()
    return Setup(store, engine, executor, later, insert_s)


async def store_burst(
    plan: LoadPlan, setup: Setup, rng: random.Random
) -> tuple[Burst, list[Planned]]:
    """Insert the due jobs, their burst starting ``_LEAD_MS`` from now, and wake the timer."""
    start = SystemClock().now_ms() + _LEAD_MS
    cron_at = minute_in(start, plan.span_ms)
    burst = Burst(start, plan.span_ms, plan.due, plan.cron_jobs if cron_at else 0, cron_at)
    due = await store_jobs(setup.store, due_jobs(burst, rng))
    if SystemClock().now_ms() >= start:
        raise BenchFailure("the due jobs were inserted after the burst began; raise _LEAD_MS")
    setup.engine.nudge()
    return burst, due


async def run_load(plan: LoadPlan, workdir: Path, seed: int = 5) -> dict[str, Any]:
    """The whole scenario; returns its figures (raises BenchFailure if the check fails)."""
    rng = random.Random(seed)
    rss_imports = proc_status_kib("VmRSS")
    say(f"   storing {plan.stored - plan.due:,} jobs due later, starting the engine ...")
    setup = await set_up(plan, workdir / "load.db", rng)
    burst, due = await store_burst(plan, setup, rng)
    lead_s = (burst.start - SystemClock().now_ms()) / 1000
    say(
        f"   {plan.due:,} jobs stored to fall due over {plan.span_ms / 1000:g} s from {lead_s:.1f} s on"
    )
    gc.collect()
    rss_start, cpu0, wall0 = proc_status_kib("VmRSS"), time.process_time(), time.perf_counter()
    samples: list[tuple[float, int]] = []
    sampler = asyncio.create_task(sample_rss(samples, _RSS_EVERY_S))
    service = TaskService(setup.store, setup.engine, Settings())
    reminders = await create_reminders(service, plan, burst.start)
    end = burst.start + plan.span_ms
    await wait_for_calls(setup.executor, plan.due + plan.reminders, end + _GRACE_MS)
    await setup.engine.drain()
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    sampler.cancel()
    rss_after = proc_status_kib("VmRSS")
    until = SystemClock().now_ms()
    await setup.engine.stop()
    say("   checking the bookkeeping ...")
    everything = [*setup.later, *due, *reminders.planned]
    calls = setup.executor.calls
    problems = await load_problems(
        setup.store, everything, [(job_id, slot) for job_id, slot, _ in calls], until
    )
    await setup.store.close()
    if problems:
        raise BenchFailure("bookkeeping check failed:\n  " + "\n  ".join(problems))
    return {
        "plan": plan.name,
        "stored": plan.stored,
        "due": plan.due,
        "span_ms": plan.span_ms,
        "cron_jobs": burst.cron_jobs,
        "reminders": plan.reminders,
        "insert_later_s": setup.insert_s,
        "lateness": lateness_by_group(calls, everything),
        "reminder_create_ms": lateness_stats(reminders.create_ms),
        "throughput": throughput(calls),
        "cpu_s": cpu_s,
        "wall_s": wall_s,
        "rss_imports_mib": rss_imports / 1024,
        "rss": rss_figures(rss_start, samples, rss_after),
        "checked_runs": len(calls),
    }


# ----- printing ------------------------------------------------------------------------------


def print_setup(plan: LoadPlan, r: dict[str, Any]) -> None:
    """What was stored and what fell due."""
    heading(
        f"load ({plan.name}): {plan.stored:,} stored jobs, {plan.due:,} due over {plan.span_ms / 1000:g} s"
    )
    if plan is QUICK:
        say(
            "   (quick: 2,000 due over 12 s, the full run's density of 10,000 a minute; 6 reminders)"
        )
    say(
        f"   {plan.stored - plan.due:,} jobs due later (2 h .. 30 days) inserted in {r['insert_later_s']:.1f} s;"
    )
    say("   due: one-shots (4/5 deleted after the run, 1/5 kept), every 15 min .. 1 day, and")
    if r["cron_jobs"]:
        say(f"   {r['cron_jobs']:,} cron jobs due together on the whole minute inside the burst;")
    else:
        say("   no cron jobs (no whole minute fell inside this short burst);")
    say(f"   + {plan.reminders} plain reminders created through the service during the load,")
    say(
        f"     each {_REMINDER_AHEAD_S} s before it is due. Real clock, real timer loop; the executor"
    )
    say(f"     succeeds at once. Database after the run: {r['db_mib']:,.0f} MiB (with WAL).")


def print_lateness(r: dict[str, Any]) -> None:
    """The lateness table: all fires, reminders, each kind."""
    heading("lateness: executor call minus due slot")
    say(
        f"   {'group':<14} {'fires':>6}  {'p50':>7}  {'p95':>7}  {'p99':>7}  {'max':>8}  {'> 50 ms':>7}"
    )
    for name, s in r["lateness"].items():
        say(
            f"   {name:<14} {s['fires']:>6,}  {s['p50_ms']:>7.2f}  {s['p95_ms']:>7.2f}  "
            f"{s['p99_ms']:>7.2f}  {s['max_ms']:>8.2f}  {s['over_50ms']:>7}   ms"
        )
    c = r["reminder_create_ms"]
    say(
        f"   creating a reminder through the service mid-load: p50 {c['p50_ms']:.1f} ms, max {c['max_ms']:.1f} ms"
    )


def print_work(r: dict[str, Any]) -> None:
    """Fires per second and the CPU they cost."""
    heading("throughput and CPU")
    t = r["throughput"]
    say(
        f"   {t['fires']:,} fires from first to last in {t['first_to_last_s']:.1f} s: "
        f"{t['mean_fires_per_s']:,.0f} fires/s on average, busiest second {t['busiest_second_fires']:,}"
    )
    say(
        f"   CPU (process time, all threads) {r['cpu_s']:.2f} s over {r['wall_s']:.1f} s wall "
        f"({100 * r['cpu_s'] / r['wall_s']:.0f} % of one core); "
        f"{1e6 * r['cpu_s'] / max(t['fires'], 1):,.0f} µs CPU per fire"
    )
    say("   (the jobs arrive spread out, so fires/s is their arrival rate: the engine keeps up;")
    say("    wall = from just before the burst until the last run was recorded)")


def print_memory(r: dict[str, Any]) -> None:
    """RSS before, during and after the load."""
    heading("memory: VmRSS")
    m = r["rss"]
    say(
        f"   after imports {r['rss_imports_mib']:.1f} MiB; start (jobs stored, engine armed) {m['start_mib']:.1f} MiB"
    )
    say(
        f"   during ({m['samples']} samples every {_RSS_EVERY_S:g} s): min {m['during_min_mib']:.1f}, "
        f"median {m['during_median_mib']:.1f}, max {m['during_max_mib']:.1f} MiB; first third "
        f"{m['first_third_median_mib']:.1f}, last third {m['last_third_median_mib']:.1f} MiB"
    )
    say(
        f"   after (all runs recorded) {m['after_mib']:.1f} MiB: growth {m['growth_mib']:+.1f} MiB, "
        f"peak {m['peak_growth_mib']:+.1f} MiB over start"
    )
    say("   (includes the bench's own record of every call, up to about 0.2 KiB per fire)")


def print_bookkeeping(r: dict[str, Any]) -> None:
    """What the check after the run established (the run stops with the problems if not)."""
    heading("bookkeeping (checked after the run)")
    say(
        f"   {r['checked_runs']:,} runs: every due job and reminder ran exactly once, for its "
        "slot; none of"
    )
    say(
        f"   the {r['stored'] - r['due']:,} later jobs ran; one finished run row each (ok, "
        "delivered, not late);"
    )
    say("   one-shots deleted or kept disabled, recurring jobs on their next slot; no job left")
    say("   claimed or due; the database passes its integrity check")


def summarize_load(plan: LoadPlan, r: dict[str, Any]) -> list[Row]:
    """The summary rows: lateness against SPEC §10, the rest reported."""
    rows = []
    for name in ("all fires", "reminder"):
        s = r["lateness"][name]
        label = "lateness, all fires" if name == "all fires" else "lateness, plain reminders"
        rows.append(
            Row(
                f"{label} ({plan.due:,} due in {plan.span_ms / 1000:g} s)",
                f"p99 {s['p99_ms']:.2f} ms (p50 {s['p50_ms']:.2f}, max {s['max_ms']:.1f})",
                f"p99 ≤ {plan.target_p99_ms:g} ms",
                verdict(s["p99_ms"] <= plan.target_p99_ms),
            )
        )
    m = r["rss"]
    rows.append(
        Row(
            f"RSS growth over the load ({plan.stored:,} stored)",
            f"{m['growth_mib']:+.1f} MiB (peak {m['peak_growth_mib']:+.1f} MiB)",
            "flat (≤ 10 MB)",
            verdict(m["peak_growth_mib"] * 1.048576 <= 10),
        )
    )
    t = r["throughput"]
    rows.append(
        Row(
            "fires/s during the load",
            f"{t['mean_fires_per_s']:,.0f}/s mean, {t['busiest_second_fires']:,} busiest second",
            "report",
            "report",
        )
    )
    rows.append(
        Row("CPU per fire", f"{1e6 * r['cpu_s'] / max(t['fires'], 1):,.0f} µs", "report", "report")
    )
    rows.append(
        Row(
            "bookkeeping", f"{r['checked_runs']:,} runs, each once, all recorded", "each once", "ok"
        )
    )
    return rows


# ----- entry point ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description="Load benchmark (SPEC §10, issue 5)."
    )
    parser.add_argument(
        "--quick", action="store_true", help="2 000 due over 12 s instead of 10 000 over 60 s"
    )
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write figures as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load, print the figures and the summary, maybe write JSON."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    plan = QUICK if args.quick else FULL
    began = time.perf_counter()
    say(banner(f"future tasks load benchmark ({plan.name})"))
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="future-tasks-load-") as tmp:
        figures = asyncio.run(run_load(plan, Path(tmp)))
        figures["db_mib"] = sum(p.stat().st_size for p in Path(tmp).glob("load.db*")) / 2**20
    print_setup(plan, figures)
    print_lateness(figures)
    print_work(figures)
    print_memory(figures)
    print_bookkeeping(figures)
    rows = summarize_load(plan, figures)
    print_summary(rows)
    results = {
        **figures,
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "summary": [_row_dict(r) for r in rows],
        "total_wall_s": time.perf_counter() - began,
    }
    say(f"\n   wall time {results['total_wall_s']:.1f} s, load average now {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        say(f"   figures written to {args.json}")
    return 0


def _row_dict(row: Row) -> dict[str, str]:
    """A summary row as JSON."""
    return {
        "figure": row.figure,
        "measured": row.measured,
        "target": row.target,
        "verdict": row.verdict,
    }


if __name__ == "__main__":
    sys.exit(main())
