"""SPEC §10 under load, as a correctness test (the figures come from ``bench/load.py``):
100 000 stored jobs, 10 000 of them due within one minute, fired by the real timer loop
on a fake clock that jumps straight to each instant the timer is armed for.

In fake time a run is late only if the engine armed late, skipped a slot or left one
behind, so every run must start exactly at its slot. The job mix and the after-the-run
check are the benchmark's own (``bench.load``), so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.engine import scalar
from bench.load import Burst, Planned, due_jobs, later_jobs, load_problems, store_jobs
from core.clock import FakeClock
from core.engine import CLAIM_AHEAD_MS, Engine
from core.settings import Settings
from core.store import Store

from .conftest import ScriptedExecutor, at

STORED = 100_000
DUE = 10_000
CRON_DUE = 2_000  # all at 10:00:00, as everyone's "0 10 * * *" is
NEAR_LATER = 1_000  # due within a minute after the drive ends: a sharp edge
BURST = Burst(
    start=at("2026-01-05 09:59:30"),
    span_ms=60_000,
    jobs=DUE,
    cron_jobs=CRON_DUE,
    cron_at=at("2026-01-05 10:00"),
    instants=300,  # one timer cycle each keeps the test at a few seconds
)
UNTIL = BURST.start + BURST.span_ms + 5_000  # the drive goes a bit beyond the minute


class TimerClock(FakeClock):
    """A fake clock that says when the timer loop goes to sleep, so the test can move time
    to the very instant the timer armed itself for (no polling, no real waiting)."""

    def __init__(self, start_ms: int) -> None:
        super().__init__(start_ms)
        self.slept = asyncio.Event()

    async def wait(self, event: asyncio.Event, timeout_ms: int) -> None:
        self.slept.set()
        await super().wait(event, timeout_ms)


async def follow_timer(clock: TimerClock, engine: Engine, until: int) -> int:
    """Each time the timer sleeps, jump to the instant it is armed for, up to ``until``;
    then make it look once more at ``until`` itself. Runs and their bookkeeping go on
    meanwhile, as they would. Returns how many instants the timer was woken at."""
    woken = 0
    while True:
        await clock.slept.wait()
        clock.slept.clear()
        armed = clock.deadlines()
        if not armed:  # woken early (a nudge): it is about to sleep again
            continue
        if armed[0] > until:
            break
        clock.set(armed[0])
        woken += 1
    clock.set(until)
    engine.nudge()
    await clock.slept.wait()  # it ticked at ``until`` and went back to sleep
    return woken


@dataclass
class Loaded:
    """The stored jobs with what must become of each, and the engine that fires them."""

    store: Store
    clock: TimerClock
    engine: Engine
    executor: ScriptedExecutor
    plan: list[Planned]


@pytest.fixture
async def loaded(tmp_path: Path) -> AsyncIterator[Loaded]:
    """A real store on a temp file with the 100 000 jobs, bulk-inserted in one transaction
    (the service's checks per job would take minutes), and a started engine with its timer."""
    store = Store(tmp_path / "tasks.db")
    await store.open()
    rng = random.Random(10)
    # The first later job falls due just beyond what the timer may claim ahead at UNTIL.
    later = later_jobs(DUE, STORED - DUE, UNTIL + CLAIM_AHEAD_MS + 1, NEAR_LATER, rng)
    plan = await store_jobs(store, itertools.chain(due_jobs(BURST, rng), later), STORED)
    clock = TimerClock(BURST.start - 10_000)
    executor = ScriptedExecutor(clock)
    engine = Engine(store, executor, Settings(), clock=clock)
    await engine.start(timer=True)
    yield Loaded(store, clock, engine, executor, plan)
    await engine.stop()
    await store.close()
    for file in tmp_path.glob("tasks.db*"):  # ~100 MB: pytest keeps recent temp dirs
        file.unlink()


async def test_ten_thousand_due_in_a_minute_among_a_hundred_thousand_run_once_on_time(
    loaded: Loaded,
):
    assert await loaded.store.count_jobs() == STORED
    kinds = Counter(p.kind for p in loaded.plan)
    assert kinds.keys() == {"one-shot", "one-shot kept", "every", "cron", "later"}
    assert kinds["later"] == STORED - DUE and kinds["cron"] == CRON_DUE
    woken = await follow_timer(loaded.clock, loaded.engine, UNTIL)
    await loaded.engine.drain()
    await loaded.engine.stop()

    # Each due job executed once, for its slot; none of the other 90 000 did; run rows are
    # finished and match; one-shots deleted or disabled, recurring jobs on their next slot;
    # nothing claimed or still due; the file passes its integrity check.
    calls = [(job_id, ctx.slot_at) for job_id, ctx, _ in loaded.executor.runs]
    assert await load_problems(loaded.store, loaded.plan, calls, UNTIL) == []

    # Lateness under load, in fake time: the timer woke at each due instant and every run
    # started at its very slot, neither marked late nor recorded as started later.
    due_instants = {p.due for p in loaded.plan if p.then is not None}
    # At most twice per distinct due instant (CLAIM_AHEAD_MS before it, to claim, and at
    # it, to start the runs), never in between.
    assert len(due_instants) <= woken <= 2 * len(due_instants), (woken, len(due_instants))
    assert all(ctx.started_at == ctx.slot_at and not ctx.late for _, ctx, _ in loaded.executor.runs)
    assert await scalar(loaded.store, "SELECT count(*) FROM runs WHERE started_at != slot_at") == 0

    # The run rows are the very runs the executor saw, and the store counts none running.
    async with loaded.store.db.execute("SELECT run_id FROM runs") as cur:
        recorded = sorted(row[0] for row in await cur.fetchall())
    assert recorded == sorted(ctx.run_id for _, ctx, _ in loaded.executor.runs)
    assert len(recorded) == DUE
    assert (await loaded.store.counts())["running"] == 0
