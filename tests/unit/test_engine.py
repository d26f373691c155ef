"""The state machine of SPEC §6, driven by a fake clock: one-shots, retries, backoff,
catch-up after downtime, crashes mid-run, concurrency and the off switch."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from core.errors import UserError
from core.models import Delivery, Job, RunStatus
from core.policy import BACKOFF_MS, RETRY_MS, Outcome
from core.schedule import ms_to_local
from core.service import JobChanges

from .conftest import ADMIN, ALICE, World, at, make_world

MIN = 60_000
HOUR = 60 * MIN


def fail(transient: bool, error: str = "boom"):
    def behave(job, run):
        return Outcome(RunStatus.ERROR, Delivery.NOT_DELIVERED, error=error, transient=transient)

    return behave


async def runs(world: World, job_id: str) -> list:
    rows, _ = await world.store.runs_for(job_id, limit=500)
    return list(reversed(rows))


# ----- one-shots ---------------------------------------------------------------------


async def test_one_shot_success_deletes_it_by_default(world: World):
    job = await world.create(message="stretch", run_at="20m")
    assert job.next_run_at == world.clock.now_ms() + 20 * MIN
    assert await world.at_time(job.next_run_at - 1) == 0
    assert await world.at_time(job.next_run_at) == 1
    assert await world.job(job.id) is None
    history = await runs(world, job.id)
    assert [(r.status, r.delivery) for r in history] == [(RunStatus.OK, Delivery.DELIVERED)]


async def test_one_shot_keep_disables_it_after_success(world: World):
    job = await world.create(message="stretch", run_at="20m", delete_after_run=False)
    await world.at_time(job.next_run_at)
    kept = await world.job(job.id)
    assert kept is not None and not kept.enabled and kept.next_run_at is None
    assert kept.last_status == "ok"


async def test_one_shot_transient_failure_retried_three_times_then_kept_disabled(world: World):
    world.executor.behave = fail(transient=True, error="429 rate limited")
    job = await world.create(message="stretch", run_at="5m")
    when = job.next_run_at
    await world.at_time(when)
    for delay in RETRY_MS:
        retry = await world.job(job.id)
        assert retry.enabled and retry.next_run_at == world.clock.now_ms() + delay
        await world.at_time(retry.next_run_at)
    final = await world.job(job.id)
    assert final is not None and not final.enabled
    assert final.last_error == "429 rate limited"
    assert len(world.executor.ran(job.id)) == 1 + len(RETRY_MS)
    assert [r.trigger.value for r in await runs(world, job.id)] == ["schedule"] + ["retry"] * 3


async def test_one_shot_permanent_failure_disables_at_once(world: World):
    world.executor.behave = fail(transient=False, error="chat not found")
    job = await world.create(message="stretch", run_at="5m")
    await world.at_time(job.next_run_at)
    final = await world.job(job.id)
    assert final is not None and not final.enabled and final.last_error == "chat not found"
    await world.at_time(world.clock.now_ms() + 24 * HOUR)
    assert len(world.executor.ran(job.id)) == 1


async def test_past_at_beyond_a_minute_is_refused(world: World):
    with pytest.raises(UserError, match="in the past"):
        await world.create(message="x", run_at="2026-01-05T08:58:00")
    ok = await world.create(message="x", run_at="2026-01-05T08:59:30")  # 30 s ago: allowed
    assert ok.next_run_at == at("2026-01-05 08:59:30")
    with pytest.raises(UserError, match="10 years"):
        await world.create(message="x", run_at="2040-01-01T00:00")


# ----- recurring schedules -----------------------------------------------------------


async def test_every_after_a_late_run_keeps_the_interval_then_stays_on_grid(world: World):
    world.clock.set(at("2026-01-05 09:14"))
    job = await world.create(message="water", every="30m")
    assert job.next_run_at == at("2026-01-05 09:44")
    await world.at_time(at("2026-01-05 10:04"))  # the 09:44 slot runs 20 minutes late
    world.clock.set(at("2026-01-05 10:10"))
    assert (await world.job(job.id)).next_run_at == at("2026-01-05 10:34")
    await world.at_time(at("2026-01-05 10:34"))
    assert (await world.job(job.id)).next_run_at == at("2026-01-05 11:04")
    # a long pause: resuming lands on the next slot of the grid, not at once
    await world.service.set_enabled(ALICE, job.id, False)
    world.clock.set(at("2026-01-05 15:50"))
    resumed = await world.service.set_enabled(ALICE, job.id, True)
    assert resumed.next_run_at == at("2026-01-05 16:04")


async def test_recurring_backoff_then_reset_on_success(world: World):
    job = await world.create(message="poll", every="1m")
    world.executor.behave = fail(transient=True)
    for step, backoff in enumerate((*BACKOFF_MS, BACKOFF_MS[-1])):
        current = await world.job(job.id)
        await world.at_time(current.next_run_at)
        after = await world.job(job.id)
        assert after.consecutive_errors == step + 1
        # the later of the backoff and the next slot of the 1-minute grid
        assert after.next_run_at - world.clock.now_ms() == max(backoff, MIN), step
    world.executor.behave = None
    await world.at_time((await world.job(job.id)).next_run_at)
    healed = await world.job(job.id)
    assert healed.consecutive_errors == 0
    assert healed.next_run_at - world.clock.now_ms() <= MIN


async def test_failure_alert_after_two_failures_with_cooldown(world: World):
    job = await world.create(message="poll", every="1m")
    world.executor.behave = fail(transient=False, error="HTTP 500")
    for _ in range(4):
        await world.at_time((await world.job(job.id)).next_run_at)
    assert len(world.alerts) == 1
    assert job.id in world.alerts[0][1] and "HTTP 500" in world.alerts[0][1]
    await world.at_time(world.clock.now_ms() + 2 * HOUR)  # the cooldown is over
    assert len(world.alerts) == 2 and "failed 5 times" in world.alerts[1][1]


async def test_invalid_zone_disables_after_three_tries_and_tells_owner(world: World):
    job = await world.create(message="daily", cron="0 8 * * *", tz="Asia/Shanghai")
    async with world.store.transaction() as db:  # the zone vanished from the system
        await db.execute(
            "UPDATE jobs SET body = replace(body, 'Asia/Shanghai', 'Gone/Zone') WHERE id=?",
            (job.id,),
        )
    for _ in range(6):
        current = await world.job(job.id)
        if not current.enabled:
            break
        await world.at_time(current.next_run_at)
    final = await world.job(job.id)
    assert not final.enabled and final.schedule_errors == 3
    assert "schedule" in final.last_error
    assert any("can no longer be computed" in text for _, text in world.alerts)


async def test_next_run_strictly_after_a_run_ending_in_the_same_second(world: World):
    job = await world.create(message="hi", cron="0 8 * * *", tz="Asia/Shanghai")
    fire = job.next_run_at
    await world.at_time(fire)  # the run ends at the very millisecond it fired
    assert (await world.job(job.id)).next_run_at == fire + 24 * HOUR
    await world.at_time(fire + 500)
    assert len(world.executor.ran(job.id)) == 1


# ----- DST through the engine --------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "expr", "days"),
    [
        ("America/Los_Angeles", "30 2 * * *", ("2026-03-06", "2026-03-11")),
        ("America/Los_Angeles", "30 1 * * *", ("2026-10-30", "2026-11-04")),
        ("Europe/Berlin", "30 2 * * *", ("2026-03-27", "2026-04-01")),
        ("Europe/Berlin", "30 2 * * *", ("2026-10-23", "2026-10-28")),
    ],
)
async def test_engine_fires_once_per_local_day_across_dst(tmp_path: Path, tz, expr, days):
    world = await make_world(tmp_path / "t.db", at(f"{days[0]} 00:00", tz))
    job = await world.create(message="tick", cron=expr, tz=tz)
    until = at(f"{days[1]} 00:00", tz)
    while (nxt := (await world.job(job.id)).next_run_at) < until:
        await world.at_time(nxt)
        await world.at_time(nxt + 30 * MIN)  # also look again within the same hour
    fired = [t for _, _, t in world.executor.runs]
    per_day = Counter(ms_to_local(t, tz).date() for t in fired)
    assert len(per_day) == 5 and set(per_day.values()) == {1}
    await world.engine.stop()
    await world.store.close()


async def test_restart_in_the_middle_of_the_repeated_hour_does_not_fire_again(tmp_path: Path):
    tz = "America/Los_Angeles"
    world = await make_world(tmp_path / "t.db", at("2026-10-31 12:00", tz))
    job = await world.create(message="tick", cron="30 1 * * *", tz=tz)
    first = job.next_run_at  # 01:30 PDT
    await world.at_time(first)
    # crash and come back at 01:40 PST, inside the second pass of the hour
    await world.restart(down_until_ms=first + HOUR + 10 * MIN)
    await world.at_time(world.clock.now_ms() + 30 * MIN)
    assert len(world.executor.ran(job.id)) == 1
    nxt = (await world.job(job.id)).next_run_at
    assert ms_to_local(nxt, tz).isoformat() == "2026-11-02T01:30:00-08:00"
    await world.engine.stop()
    await world.store.close()


# ----- downtime and catch-up ---------------------------------------------------------


async def _daily_jobs_then_downtime(world: World, policy: str, days: int) -> Job:
    job = await world.create(message="report", cron="0 10 * * *", catch_up=policy)
    await world.restart(down_until_ms=at("2026-01-05 10:00") + days * 24 * HOUR + 30 * MIN)
    return job


async def test_catch_up_once_runs_the_latest_missed_slot_marked_late(world: World):
    job = await _daily_jobs_then_downtime(world, "once", days=0)
    ran = world.executor.ran(job.id)
    assert len(ran) == 1 and ran[0].late and ran[0].slot_at == at("2026-01-05 10:00")
    assert (await world.job(job.id)).next_run_at == at("2026-01-06 10:00")


async def test_catch_up_once_records_older_slots_as_missed(tmp_path: Path):
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"), catch_up_window_hours=48)
    job = await world.create(message="hourly", cron="0 * * * *")
    await world.restart(down_until_ms=at("2026-01-05 14:10"))
    ran = world.executor.ran(job.id)
    assert [r.slot_at for r in ran] == [at("2026-01-05 14:00")] and ran[0].late
    statuses = Counter(r.status for r in await runs(world, job.id))
    assert statuses == {RunStatus.MISSED: 4, RunStatus.OK: 1}
    await world.store.close()


async def test_catch_up_skip_runs_nothing_and_records_missed(world: World):
    job = await world.create(message="hourly", cron="0 * * * *", catch_up="skip")
    await world.restart(down_until_ms=at("2026-01-05 12:10"))
    assert world.executor.ran(job.id) == []
    history = await runs(world, job.id)
    assert [r.slot_at for r in history] == [at(f"2026-01-05 {h}:00") for h in (10, 11, 12)]
    assert all(r.status == RunStatus.MISSED for r in history)
    assert (await world.job(job.id)).next_run_at == at("2026-01-05 13:00")


async def test_catch_up_all_runs_every_slot_in_order(world: World):
    job = await world.create(ADMIN, message="hourly", cron="0 * * * *", catch_up="all")
    await world.restart(down_until_ms=at("2026-01-05 13:10"))
    for _ in range(5):
        await world.at_time(world.clock.now_ms())
    slots = [r.slot_at for r in world.executor.ran(job.id)]
    assert slots == [at(f"2026-01-05 {h}:00") for h in (10, 11, 12, 13)]
    assert (await world.job(job.id)).next_run_at == at("2026-01-05 14:00")


async def test_slots_older_than_the_window_are_missed_not_run(world: World):
    job = await world.create(ADMIN, message="report", cron="0 10 * * *", catch_up="all")
    await world.restart(down_until_ms=at("2026-01-08 09:00"))  # 3 days down, window 24 h
    for _ in range(3):
        await world.at_time(world.clock.now_ms())
    assert [r.slot_at for r in world.executor.ran(job.id)] == [at("2026-01-07 10:00")]
    missed = [r.slot_at for r in await runs(world, job.id) if r.status == RunStatus.MISSED]
    assert missed == [at("2026-01-05 10:00"), at("2026-01-06 10:00")]


async def test_a_one_shot_missed_beyond_the_window_is_kept_disabled(world: World):
    job = await world.create(message="call mum", run_at="2h")
    await world.restart(down_until_ms=at("2026-01-07 09:00"))
    kept = await world.job(job.id)
    assert kept is not None and not kept.enabled and kept.last_status == "missed"
    assert world.executor.ran(job.id) == []


async def test_more_than_five_overdue_jobs_start_five_at_once_then_spread(world: World):
    jobs = [await world.create(message=f"r{i}", run_at="10m") for i in range(12)]
    await world.restart(down_until_ms=at("2026-01-05 10:00"))
    assert len(world.executor.runs) == 5
    waiting = [await world.job(j.id) for j in jobs]
    later = sorted(j.next_run_at for j in waiting if j is not None)
    assert all(t > world.clock.now_ms() for t in later) and len(later) == 7
    await world.at_time(max(later))
    assert sorted(jid for jid, _, _ in world.executor.runs) == sorted(j.id for j in jobs)
    assert all(ctx.late for _, ctx, _ in world.executor.runs)


async def test_ten_minutes_downtime_every_reminder_delivered_once_marked_late(world: World):
    jobs = [await world.create(message=f"r{i}", run_at=f"{i + 1}m") for i in range(10)]
    await world.restart(down_until_ms=world.clock.now_ms() + 11 * MIN)
    for _ in range(5):
        await world.at_time(world.clock.now_ms() + 2_000)
    assert Counter(jid for jid, _, _ in world.executor.runs) == {j.id: 1 for j in jobs}


# ----- crashes mid-run ---------------------------------------------------------------


async def _crash_mid_run(world: World, job: Job) -> None:
    """Claim and start the run, then 'crash': the claim marker stays in the database."""
    world.executor.holds[job.id] = asyncio.Event()
    world.clock.set(job.next_run_at)
    assert await world.engine.tick() == 1
    await asyncio.sleep(0)
    for task in list(world.engine._in_flight):
        task.cancel()
    await asyncio.gather(*world.engine._in_flight, return_exceptions=True)
    del world.executor.holds[job.id]


async def test_crash_mid_run_recurring_is_interrupted_and_goes_on(world: World):
    job = await world.create(message="hourly", cron="0 * * * *")
    await _crash_mid_run(world, job)
    await world.restart(down_until_ms=at("2026-01-05 10:20"))
    history = await runs(world, job.id)
    assert [r.status for r in history] == [RunStatus.INTERRUPTED]
    assert (await world.job(job.id)).next_run_at == at("2026-01-05 11:00")
    await world.at_time(at("2026-01-05 11:00"))
    assert [r.status for r in await runs(world, job.id)][-1] == RunStatus.OK


async def test_crash_mid_run_one_shot_runs_again_once(world: World):
    job = await world.create(message="call", run_at="5m")
    await _crash_mid_run(world, job)
    await world.restart(down_until_ms=world.clock.now_ms() + MIN)
    assert len(world.executor.ran(job.id)) == 2  # the interrupted start, then the re-run
    assert await world.job(job.id) is None  # succeeded, deleted
    history = await runs(world, job.id)
    assert [(r.status, r.delivery) for r in history] == [
        (RunStatus.INTERRUPTED, Delivery.UNKNOWN),  # nobody can say whether it went out
        (RunStatus.OK, Delivery.DELIVERED),
    ]


async def _crash_after_marking(world: World, job: Job, delivery: Delivery) -> None:
    """The run marks its send (``delivered`` or ``unknown``), the mark is written, then
    the bot dies before the run ends; then the bot starts again a minute later."""
    marked = asyncio.Event()
    original = world.executor.execute

    async def mark_then_hang(j, run):
        run.mark_delivered(delivery)
        await world.engine.flush()
        marked.set()
        await asyncio.Event().wait()
        return await original(j, run)

    world.executor.execute = mark_then_hang  # type: ignore[method-assign]
    world.clock.set(job.next_run_at)
    await world.engine.tick()
    await marked.wait()
    for task in list(world.engine._in_flight):
        task.cancel()
    await asyncio.gather(*world.engine._in_flight, return_exceptions=True)
    world.executor.execute = original  # type: ignore[method-assign]
    await world.restart(down_until_ms=world.clock.now_ms() + MIN)


async def test_crash_after_delivery_was_recorded_does_not_send_again(world: World):
    job = await world.create(message="call", run_at="5m")
    await _crash_after_marking(world, job, Delivery.DELIVERED)
    assert world.executor.ran(job.id) == []
    assert await world.job(job.id) is None
    assert [r.delivery for r in await runs(world, job.id)] == [Delivery.DELIVERED]


async def test_crash_after_an_unacknowledged_send_does_not_send_again_and_says_unknown(
    world: World,
):
    job = await world.create(message="call", run_at="5m")
    await _crash_after_marking(world, job, Delivery.UNKNOWN)
    assert world.executor.ran(job.id) == []
    assert [(r.status, r.delivery) for r in await runs(world, job.id)] == [
        (RunStatus.INTERRUPTED, Delivery.UNKNOWN)
    ]


async def test_an_interrupted_one_shot_interrupted_again_is_disabled(world: World):
    job = await world.create(message="call", run_at="5m")
    await _crash_mid_run(world, job)
    world.executor.holds[job.id] = asyncio.Event()
    await world.restart(down_until_ms=world.clock.now_ms() + MIN, settle=False)  # re-run hangs
    await asyncio.sleep(0)
    assert len(world.executor.ran(job.id)) == 2
    for task in list(world.engine._in_flight):
        task.cancel()
    await asyncio.gather(*world.engine._in_flight, return_exceptions=True)
    del world.executor.holds[job.id]
    await world.restart(down_until_ms=world.clock.now_ms() + MIN)
    final = await world.job(job.id)
    assert final is not None and not final.enabled and "interrupted twice" in final.last_error
    await world.engine.drain()
    (alert,) = [text for _, text in world.alerts if job.id in text]
    assert "was paused" in alert and f"/cron run {job.id}" in alert, alert


async def test_drain_waits_for_a_batch_the_applier_is_writing(world: World):
    """An orderly stop must not return while the applier still writes outcomes it took."""
    job = await world.create(message="call", run_at="5m")
    writing, release = asyncio.Event(), asyncio.Event()
    finish_runs = world.store.finish_runs

    async def slow_finish_runs(*args, **kwargs):
        writing.set()
        await release.wait()
        return await finish_runs(*args, **kwargs)

    world.store.finish_runs = slow_finish_runs  # type: ignore[method-assign]
    world.clock.set(job.next_run_at)
    await world.engine.tick()
    await asyncio.wait_for(writing.wait(), 5)  # the applier took the batch
    drained = asyncio.create_task(world.engine.drain())
    await asyncio.sleep(0.05)
    assert not drained.done()
    release.set()
    await asyncio.wait_for(drained, 5)
    assert [(r.status, r.delivery) for r in await runs(world, job.id)] == [
        (RunStatus.OK, Delivery.DELIVERED)
    ]


# ----- concurrent edits --------------------------------------------------------------


async def test_manual_and_timer_run_at_the_same_moment_execute_once(world: World):
    job = await world.create(message="hi", run_at="5m", delete_after_run=False)
    world.clock.set(job.next_run_at)
    results = await asyncio.gather(
        world.service.run_now(ALICE, job.id), world.engine.tick(), return_exceptions=True
    )
    await world.engine.drain()
    await world.at_time(world.clock.now_ms() + MIN)
    assert len(world.executor.ran(job.id)) == 1, results


async def test_manual_run_off_schedule_does_not_move_the_schedule(world: World):
    job = await world.create(message="hi", cron="0 10 * * *")
    await world.service.run_now(ALICE, job.id)
    await world.engine.drain()
    after = await world.job(job.id)
    assert after.next_run_at == job.next_run_at == at("2026-01-05 10:00")
    assert [r.trigger.value for r in await runs(world, job.id)] == ["manual"]


async def test_listing_or_editing_a_due_job_never_skips_its_run(world: World):
    job = await world.create(message="hi", cron="0 10 * * *", name="old")
    world.clock.set(at("2026-01-05 10:00:05"))  # due, not yet fired
    await world.service.list(ALICE)
    await world.service.get(ALICE, job.id)
    edited = await world.service.edit(ALICE, job.id, JobChanges(name="new name"))
    assert edited.next_run_at == job.next_run_at
    await world.at_time(world.clock.now_ms())
    ran = world.executor.ran(job.id)
    assert len(ran) == 1 and ran[0].slot_at == at("2026-01-05 10:00")


async def test_editing_the_name_keeps_the_next_run(world: World):
    job = await world.create(message="hi", every="2h")
    edited = await world.service.edit(ALICE, job.id, JobChanges(name="renamed", message="hey"))
    assert edited.next_run_at == job.next_run_at and edited.name == "renamed"


async def test_deleting_a_job_mid_run_discards_its_result_without_error(world: World):
    job = await world.create(message="hi", every="1h")
    world.executor.holds[job.id] = asyncio.Event()
    world.clock.set(job.next_run_at)
    await world.engine.tick()
    await asyncio.sleep(0)
    await world.service.cancel(ALICE, job.id)
    world.executor.holds[job.id].set()
    await world.engine.drain()
    assert await world.job(job.id) is None
    assert world.engine.last_error is None
    history = await runs(world, job.id)
    assert history[-1].status == RunStatus.OK and "deleted during the run" in history[-1].error


async def test_pausing_a_job_mid_run_keeps_it_paused(world: World):
    job = await world.create(message="hi", every="1h")
    world.executor.holds[job.id] = asyncio.Event()
    world.clock.set(job.next_run_at)
    await world.engine.tick()
    await asyncio.sleep(0)
    await world.service.set_enabled(ALICE, job.id, False)
    world.executor.holds[job.id].set()
    await world.engine.drain()
    after = await world.job(job.id)
    assert not after.enabled and after.next_run_at is None and after.running_run_id is None


# ----- concurrency limits, timeouts, the off switch ----------------------------------


async def test_reminders_never_wait_behind_agent_runs(tmp_path: Path):
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"), max_concurrent_runs=2)
    world.executor.holds["isolated"] = asyncio.Event()
    agents = [await world.create(message=f"a{i}", run_at="5m", mode="isolated") for i in range(4)]
    reminder = await world.create(message="drink water", run_at="5m")
    world.clock.set(reminder.next_run_at)
    await world.engine.tick()
    for _ in range(20):
        await asyncio.sleep(0)
        if world.executor.ran(reminder.id) and (await world.job(reminder.id)) is None:
            break
        await world.engine.flush()
    assert world.executor.ran(reminder.id) and await world.job(reminder.id) is None
    assert world.executor.peak_active["isolated"] == 2  # max_concurrent_runs
    world.executor.holds["isolated"].set()
    await world.engine.drain()
    assert len(world.executor.runs) == len(agents) + 1
    await world.store.close()


async def test_a_run_over_its_timeout_is_recorded_as_timeout(world: World):
    job = await world.create(message="slow", every="1h", timeout_seconds=1)
    world.executor.holds[job.id] = asyncio.Event()
    await world.at_time(job.next_run_at)
    after = await world.job(job.id)
    assert after.last_status == "timeout" and "timed out" in after.last_error


async def test_off_switch_fires_nothing_but_jobs_can_be_managed(tmp_path: Path):
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"), enabled=False)
    job = await world.create(message="x", run_at="1m")
    assert await world.at_time(job.next_run_at + HOUR) == 0
    assert world.executor.runs == []
    status = await world.service.status()
    assert status["enabled"] is False and "disabled" in status["off_reason"]
    page = await world.service.list(ALICE)
    assert [j.id for j in page.jobs] == [job.id]
    await world.store.close()


async def test_ten_thousand_jobs_due_at_once_each_run_once(world: World):
    from core.models import Job, Owner, Payload, Schedule, ScheduleKind

    due = at("2026-01-05 10:00")
    async with world.store.transaction() as db:
        await db.executemany(
            "INSERT INTO jobs (id, owner_origin, owner_key, body, enabled, next_run_at, "
            "next_slot_at, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, 0, 0)",
            [
                (
                    f"j{i:07d}", "qq:FriendMessage:1", "qq:1",
                    Job(
                        id=f"j{i:07d}", owner=Owner(origin="qq:FriendMessage:1", sender_id="1"),
                        schedule=Schedule(kind=ScheduleKind.AT, at_ms=due),
                        payload=Payload(message=f"m{i}"), delete_after_run=i % 2 == 0,
                        created_at=0, updated_at=0,
                    ).model_dump_json(),
                    due, due,
                )
                for i in range(10_000)
            ],
        )  # fmt: skip
    assert await world.at_time(due) == 10_000
    assert Counter(Counter(jid for jid, _, _ in world.executor.runs).values()) == {1: 10_000}
    counts = await world.store.counts()
    assert counts == {"total": 5_000, "enabled": 0, "disabled": 5_000, "running": 0}
    assert await world.store.run_count_by_status() == {"ok": 10_000}
    assert await world.at_time(due + HOUR) == 0


async def test_skip_cron_environment_switch_fires_nothing(tmp_path: Path):
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"))
    await world.engine.stop()
    await world.engine.start(timer=False, skip_cron=True)
    job = await world.create(message="x", run_at="1m")
    assert await world.at_time(job.next_run_at) == 0
    assert (await world.service.status())["off_reason"] == "disabled by FUTURE_TASKS_SKIP_CRON=1"
    await world.store.close()


async def test_a_slot_missed_in_a_short_downtime_is_still_marked_late(world: World):
    job = await world.create(message="tea", run_at="1m")
    await world.restart(down_until_ms=job.next_run_at + 5_000)  # down for just 5 s past it
    ran = world.executor.ran(job.id)
    assert len(ran) == 1 and ran[0].late
    assert [r.late for r in await runs(world, job.id)] == [True]  # and so says the history
