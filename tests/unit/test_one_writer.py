"""SPEC §6 "one state machine, one writer" and "one job never stops the others": the cases
a review reproduced, each a regression test that failed before its fix.

The real store on a real file and a fake clock; odd rows are made the way a damaged or
hand-edited database would hold them, by SQL on the file.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from core.errors import Conflict, UserError
from core.models import Delivery, Job, RunStatus
from core.policy import Outcome
from core.service import JobChanges

from .conftest import ALICE, BOB, World, at, make_world, until

MIN = 60_000
HOUR = 60 * MIN


async def _sql(world: World, statement: str, *params: object) -> None:
    await world.store.db.execute(statement, params)


async def _break_row(world: World, job_id: str) -> None:
    """The row no longer loads: its schedule kind is one this plugin does not know."""
    await _sql(
        world, "UPDATE jobs SET body=json_set(body, '$.schedule.kind', 'weekly') WHERE id=?", job_id
    )


async def _break_schedule(world: World, job_id: str) -> None:
    """The row loads, but computing its next run trips an assertion (no interval anchor)."""
    await _sql(
        world,
        "UPDATE jobs SET body=json_set(body, '$.schedule.anchor_ms', NULL) WHERE id=?",
        job_id,
    )


# ----- an edit racing a finished run ----------------------------------------------------


async def test_an_edit_racing_a_finished_run_never_brings_back_a_slot_that_already_ran(
    world: World,
):
    job = await world.create(message="hourly", cron="0 * * * *")
    slot = at("2026-01-05 10:00")
    assert job.next_run_at == slot
    hold = world.executor.holds[job.id] = asyncio.Event()
    world.clock.set(slot)
    assert await world.engine.tick() == 1
    await until(lambda: len(world.executor.runs) == 1)

    # The edit reads the job while it runs; the run finishes and is applied before the
    # edit writes its change back.
    read = world.store.get_job
    raced = False

    async def read_then_finish_the_run(job_id: str, **kwargs: object) -> Job | None:
        nonlocal raced
        found = await read(job_id, **kwargs)  # type: ignore[arg-type]
        if not raced:
            raced = True
            hold.set()
            await world.engine.drain()
        return found

    world.store.get_job = read_then_finish_the_run  # type: ignore[method-assign]
    edited = await world.service.edit(ALICE, job.id, JobChanges(name="renamed"))
    world.store.get_job = read  # type: ignore[method-assign]

    assert edited.name == "renamed"
    stored = await world.job(job.id)
    assert stored is not None and stored.name == "renamed"
    assert stored.next_run_at == at("2026-01-05 11:00") and stored.last_run_at == slot
    assert edited.version == stored.version  # the edit answers the job as it stored it
    await world.at_time(slot + 30_000)
    assert len(world.executor.ran(job.id)) == 1  # the 10:00 slot did not come back


# ----- a delivered run is never retried --------------------------------------------------


async def test_a_run_that_delivered_then_timed_out_is_not_retried(world: World):
    def deliver_then_time_out(job: Job, run) -> Outcome:
        run.mark_delivered()
        raise TimeoutError

    world.executor.behave = deliver_then_time_out
    job = await world.create(message="stretch", run_at="5m", delete_after_run=False)
    await world.at_time(job.next_run_at)
    await world.at_time(world.clock.now_ms() + 24 * HOUR)
    assert len(world.executor.ran(job.id)) == 1
    stored = await world.job(job.id)
    assert stored is not None and not stored.enabled
    rows, _ = await world.store.runs_for(job.id)
    assert [(r.status, r.delivery) for r in rows] == [(RunStatus.TIMEOUT, Delivery.DELIVERED)]


async def test_a_failure_reported_after_a_delivery_is_not_retried(world: World):
    def deliver_then_fail(job: Job, run) -> Outcome:
        run.mark_delivered()
        return Outcome(RunStatus.ERROR, Delivery.NOT_DELIVERED, error="429", transient=True)

    world.executor.behave = deliver_then_fail
    job = await world.create(message="stretch", run_at="5m", delete_after_run=False)
    await world.at_time(job.next_run_at)
    await world.at_time(world.clock.now_ms() + 24 * HOUR)
    assert len(world.executor.ran(job.id)) == 1


async def test_an_unacknowledged_send_then_a_timeout_is_recorded_unknown_and_not_retried(
    world: World,
):
    """A platform that gives no acknowledgement (SPEC §5): the run may have gone out, so
    it is never sent again, and its row says ``unknown``, not ``delivered``."""

    def send_unacknowledged_then_time_out(job: Job, run) -> Outcome:
        run.mark_delivered(Delivery.UNKNOWN)
        raise TimeoutError

    world.executor.behave = send_unacknowledged_then_time_out
    job = await world.create(message="stretch", run_at="5m", delete_after_run=False)
    await world.at_time(job.next_run_at)
    await world.at_time(world.clock.now_ms() + 24 * HOUR)
    assert len(world.executor.ran(job.id)) == 1
    rows, _ = await world.store.runs_for(job.id)
    assert [(r.status, r.delivery) for r in rows] == [(RunStatus.TIMEOUT, Delivery.UNKNOWN)]


async def test_one_acknowledged_send_makes_a_run_delivered_whatever_came_unacknowledged(
    world: World,
):
    def one_of_each(job: Job, run) -> Outcome:
        run.mark_delivered(Delivery.DELIVERED)
        run.mark_delivered(Delivery.UNKNOWN)
        return Outcome(RunStatus.OK, Delivery.UNKNOWN)

    world.executor.behave = one_of_each
    job = await world.create(message="stretch", run_at="5m", delete_after_run=False)
    await world.at_time(job.next_run_at)
    rows, _ = await world.store.runs_for(job.id)
    assert [(r.status, r.delivery) for r in rows] == [(RunStatus.OK, Delivery.DELIVERED)]


# ----- limits that hold -----------------------------------------------------------------


async def test_sixty_concurrent_creates_against_a_limit_of_twenty_create_exactly_twenty(
    tmp_path: Path,
):
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"), max_jobs_per_user=20)
    try:
        results = await asyncio.gather(
            *(world.create(message=f"n{i}", run_at="1h") for i in range(60)),
            return_exceptions=True,
        )
        created = [r for r in results if isinstance(r, Job)]
        refused = [r for r in results if isinstance(r, UserError)]
        assert (len(created), len(refused)) == (20, 40)
        assert await world.store.count_jobs() == 20
    finally:
        await world.engine.stop()
        await world.store.close()


async def test_the_29th_of_february_every_minute_is_refused_under_an_hourly_minimum(
    tmp_path: Path,
):
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"), min_interval_seconds=3600)
    try:
        with pytest.raises(UserError, match="3600"):
            await world.create(message="leap", cron="* * 29 2 *")
        ok = await world.create(message="leap", cron="0 9 29 2 *")
        assert ok.next_run_at == at("2028-02-29 09:00")
    finally:
        await world.engine.stop()
        await world.store.close()


# ----- one job never stops the others ---------------------------------------------------


async def test_a_row_that_no_longer_loads_is_set_aside_alone_while_the_others_fire(world: World):
    broken = await world.create(message="broken", run_at="1h")
    fine = await world.create(BOB, message="fine", run_at="1h")
    await _break_row(world, broken.id)
    await world.at_time(fine.next_run_at)
    assert world.executor.ran(fine.id) and not world.executor.ran(broken.id)
    await world.at_time(fine.next_run_at + HOUR)
    status = await world.service.status()
    assert [a["id"] for a in status["set_aside"]] == [broken.id]
    assert "cannot be read" in status["set_aside"][0]["reason"]
    assert status["jobs"]["disabled"] == 1 and status["jobs"]["running"] == 0
    told = [text for origin, text in world.alerts if broken.id in text]
    assert len(told) == 1 and world.alerts[0][0] == ALICE.origin
    page = await world.service.list(ALICE)  # the page's own list still loads
    assert page.jobs == []


async def test_a_row_that_no_longer_loads_at_start_is_set_aside_and_the_scheduler_runs(
    world: World,
):
    broken = await world.create(message="broken", cron="0 * * * *")
    fine = await world.create(BOB, message="fine", cron="0 * * * *")
    await _break_row(world, broken.id)
    await world.restart(at("2026-01-05 10:30"))  # the 10:00 slots were missed: catch-up
    assert world.engine.started
    assert [run.slot_at for run in world.executor.ran(fine.id)] == [at("2026-01-05 10:00")]
    await world.at_time(at("2026-01-05 11:00"))
    assert len(world.executor.ran(fine.id)) == 2 and not world.executor.ran(broken.id)
    status = await world.service.status()
    assert [a["id"] for a in status["set_aside"]] == [broken.id]
    assert len([t for _, t in world.alerts if broken.id in t]) == 1


async def test_a_claimed_row_that_no_longer_loads_at_start_is_set_aside_alone(world: World):
    broken = await world.create(message="broken", cron="0 * * * *")
    fine = await world.create(BOB, message="fine", cron="30 10 * * *")
    world.executor.holds[broken.id] = asyncio.Event()  # never released: the crash cuts it
    world.clock.set(broken.next_run_at)
    await world.engine.tick()
    await _break_row(world, broken.id)
    await world.restart(at("2026-01-05 10:05"))
    assert world.engine.started
    await world.at_time(at("2026-01-05 10:30"))
    assert len(world.executor.ran(fine.id)) == 1
    status = await world.service.status()
    assert [a["id"] for a in status["set_aside"]] == [broken.id]
    assert status["jobs"]["running"] == 0


async def test_an_assertion_computing_one_next_run_sets_that_job_aside_and_the_batch_finishes(
    world: World,
):
    broken = await world.create(message="broken", every="1h")
    fine = await world.create(BOB, message="fine", every="1h")
    await _break_schedule(world, broken.id)
    await asyncio.wait_for(world.at_time(fine.next_run_at), 10)
    counts = await world.store.counts()
    assert counts["running"] == 0
    after = await world.job(fine.id)
    assert after is not None and after.next_run_at == fine.next_run_at + HOUR
    aside = await world.job(broken.id)
    assert aside is not None and not aside.enabled and "AssertionError" in (aside.last_error or "")
    assert len([t for _, t in world.alerts if broken.id in t]) == 1
    await world.at_time(fine.next_run_at + HOUR)
    assert len(world.executor.ran(fine.id)) == 2


async def test_start_never_reports_started_without_a_running_timer(world: World):
    broken = await world.create(message="broken", every="1h")
    fine = await world.create(BOB, message="fine", every="2h")
    world.executor.holds[broken.id] = asyncio.Event()
    world.clock.set(broken.next_run_at)
    await world.engine.tick()
    await _break_schedule(world, broken.id)  # the crash recovery will trip on it
    for task in (world.engine._applier, world.engine._timer):
        if task is not None:
            task.cancel()
    await world.store.close()
    await world.store.open()
    engine = type(world.engine)(
        world.store, world.executor, world.settings, clock=world.clock, alert=world.engine._alert
    )
    with contextlib.suppress(Exception):  # before the fix it raised, leaving started set
        await engine.start(timer=True)
    try:
        assert engine.started
        assert engine._timer is not None and not engine._timer.done()
        assert (await world.store.get_job(fine.id)).enabled  # type: ignore[union-attr]
    finally:
        await engine.stop()


async def test_an_edit_that_keeps_meeting_changes_answers_changed_meanwhile(world: World):
    job = await world.create(message="hourly", cron="0 * * * *")

    async def always_changed(write) -> bool:
        return False

    world.store.write_job = always_changed  # type: ignore[method-assign]
    with pytest.raises(Conflict, match="changed meanwhile"):
        await world.service.edit(ALICE, job.id, JobChanges(name="renamed"))


async def test_run_now_on_a_running_task_is_a_conflict_not_bad_input(world: World):
    job = await world.create(message="hourly", cron="0 * * * *")
    world.executor.holds[job.id] = asyncio.Event()
    await world.service.run_now(ALICE, job.id)
    with pytest.raises(Conflict, match="running right now"):
        await world.service.run_now(ALICE, job.id)
    world.executor.holds[job.id].set()


async def test_a_one_shot_deleted_after_its_run_keeps_the_event_it_queued(world: World):
    """A main-session run with wake_mode next-heartbeat queues its event and is done: the
    writer deleting the finished one-shot must not take the queued event with it."""
    queued: list[str] = []

    def queue_for_the_heartbeat(job: Job, run) -> Outcome:
        queued.append(job.id)
        return Outcome(RunStatus.OK, Delivery.NOT_REQUESTED)

    world.executor.behave = queue_for_the_heartbeat
    job = await world.create(message="standup", run_at="5m")
    await world.store.add_pending_event(ALICE.origin, job.id, "standup", world.clock.now_ms())
    await world.at_time(job.next_run_at)
    assert queued == [job.id] and await world.job(job.id) is None
    assert await world.store.take_pending_events(ALICE.origin) == ["standup"]


async def test_resuming_a_task_set_aside_for_its_schedule_says_to_give_it_a_new_one(
    world: World,
):
    broken = await world.create(message="broken", every="1h")
    await _break_schedule(world, broken.id)
    await world.at_time(broken.next_run_at)
    with pytest.raises(UserError, match="give it a new schedule"):
        await world.service.set_enabled(ALICE, broken.id, True)
    fixed = await world.service.edit(ALICE, broken.id, JobChanges(every="2h"))
    assert fixed.enabled and fixed.next_run_at == world.clock.now_ms() + 2 * HOUR
    assert (await world.service.status())["set_aside"] == []
