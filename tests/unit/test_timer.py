"""The one timer: armed on the earliest job, re-armed at least every 60 s, woken by
changes, and never a hot loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .conftest import at, make_world


async def _settle() -> None:
    """Let the timer loop run until it waits again (its store calls use a thread)."""
    for _ in range(3):
        await asyncio.sleep(0.005)


async def test_timer_arms_on_the_earliest_job_clamped_to_a_minute(tmp_path: Path):
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"))
    job = await world.create(message="later", run_at="2h")
    await world.engine.stop()
    await world.engine.start(timer=True)
    await _settle()
    now = world.clock.now_ms()
    assert world.clock.deadlines() == [now + 60_000]
    soon = await world.create(message="soon", run_at="20s")  # nudges the timer
    await _settle()
    assert world.clock.deadlines() == [soon.next_run_at]
    world.clock.set(soon.next_run_at)
    await _settle()
    await world.engine.drain()
    assert [jid for jid, _, _ in world.executor.runs] == [soon.id]
    await _settle()
    assert world.clock.deadlines() == [world.clock.now_ms() + 60_000]
    for _ in range(121):  # two hours of one-minute re-arms
        world.clock.advance(60_000)
        await _settle()
    await world.engine.drain()
    assert [jid for jid, _, _ in world.executor.runs] == [soon.id, job.id]
    await world.engine.stop()
    await world.store.close()


async def test_a_failing_store_never_makes_a_hot_loop(tmp_path: Path):
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"))
    await world.engine.stop()
    calls = 0

    async def broken(now_ms: int, limit: int):
        nonlocal calls
        calls += 1
        raise RuntimeError("disk on fire")

    world.store.claim_due = broken  # type: ignore[method-assign]
    await world.engine.start(timer=True)
    await asyncio.sleep(0.05)
    assert calls == 1
    assert world.engine.last_error == "timer: disk on fire"
    assert world.clock.deadlines() == [world.clock.now_ms() + 1_000]
    await world.engine.stop()
    await world.store.close()


async def test_a_clock_jump_forward_runs_catch_up(tmp_path: Path):
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"))
    job = await world.create(message="hourly", cron="0 * * * *", catch_up="skip")
    await world.engine.stop()
    await world.engine.start(timer=True)
    await _settle()
    world.clock.set(at("2026-01-05 13:30"))  # the host slept for hours
    await _settle()
    await world.engine.drain()
    assert world.executor.runs == []  # skip policy: recorded, not run
    runs, total = await world.store.runs_for(job.id)
    assert total == 4 and {r.status.value for r in runs} == {"missed"}
    await world.engine.stop()
    await world.store.close()
