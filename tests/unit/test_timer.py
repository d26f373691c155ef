"""The one timer: armed on the earliest job, re-armed at least every 60 s, woken by
changes, and never a hot loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.engine import CLAIM_AHEAD_MS

from .conftest import at, make_world, until


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
    assert world.clock.deadlines() == [soon.next_run_at - CLAIM_AHEAD_MS]  # to claim it
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


async def _claimed_ahead(world, due: int) -> None:
    """Move to CLAIM_AHEAD_MS before ``due`` and wait until the timer claimed and sleeps
    towards ``due`` itself."""
    world.clock.set(due - CLAIM_AHEAD_MS)
    await until(lambda: world.clock.deadlines() == [due], timeout_s=1.0)


async def _claimed_ahead_world(tmp_path: Path, **job: object):
    """A world with one job and its timer running, moved to the moment the timer has
    claimed the job ahead of its due time."""
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"))
    created = await world.create(**job)
    await world.engine.stop()
    await world.engine.start(timer=True)
    await _settle()
    await _claimed_ahead(world, created.next_run_at)
    return world, created, created.next_run_at


async def test_the_timer_claims_just_ahead_and_starts_the_run_on_its_slot(tmp_path: Path):
    world, job, due = await _claimed_ahead_world(tmp_path, message="tea", run_at="20s")
    assert (await world.store.counts())["running"] == 1
    assert world.executor.runs == []  # claimed, not started: it is not due yet
    world.clock.set(due)
    await _settle()
    await world.engine.drain()
    ((job_id, ctx, started),) = world.executor.runs
    assert (job_id, ctx.slot_at, started, ctx.late) == (job.id, due, due, False)
    await world.engine.stop()
    await world.store.close()


async def test_a_stop_while_claimed_ahead_still_runs_the_job_at_its_time(tmp_path: Path):
    world, job, due = await _claimed_ahead_world(tmp_path, message="hourly", cron="0 * * * *")
    stopping = asyncio.create_task(world.engine.stop())
    await _settle()
    assert not stopping.done() and world.executor.runs == []  # never before its time
    world.clock.set(due)
    await asyncio.wait_for(stopping, 5)
    assert [(jid, started) for jid, _, started in world.executor.runs] == [(job.id, due)]
    runs, _ = await world.store.runs_for(job.id)
    assert [(r.status.value, r.delivery.value) for r in runs] == [("ok", "delivered")]
    assert (await world.job(job.id)).next_run_at == due + 3_600_000  # type: ignore[union-attr]
    await world.store.close()
