"""The service every front door shares: validation, permissions, limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import NotFound, PermissionDenied, UserError
from core.service import Actor, JobChanges, JobSpec, describe_next_run

from .conftest import ADMIN, ALICE, BOB, World, at, make_world


async def test_another_members_job_is_invisible_and_untouchable(world: World):
    job = await world.create(ALICE, message="mine", every="1h")
    for call in (
        world.service.get(BOB, job.id),
        world.service.edit(BOB, job.id, JobChanges(message="hijacked")),
        world.service.run_now(BOB, job.id),
        world.service.cancel(BOB, job.id),
        world.service.history(BOB, job.id),
    ):
        with pytest.raises(NotFound, match="no task with id"):
            await call
    assert (await world.job(job.id)).payload.message == "mine"
    assert [j.id for j in (await world.service.list(BOB)).jobs] == []
    with pytest.raises(PermissionDenied):
        await world.service.list(BOB, all_jobs=True)
    assert (await world.service.get(ADMIN, job.id)).id == job.id  # admins see all
    assert [j.id for j in (await world.service.list(ADMIN, all_jobs=True)).jobs] == [job.id]
    await world.service.cancel(ADMIN, job.id)
    assert await world.job(job.id) is None


async def test_same_user_in_a_group_sees_only_that_groups_jobs_there(world: World):
    in_group = Actor(origin="qq:GroupMessage:55", sender_id=ALICE.sender_id)
    private = await world.create(ALICE, message="private", every="1h")
    grouped = await world.create(in_group, message="group", every="1h")
    assert [j.id for j in (await world.service.list(in_group)).jobs] == [grouped.id]
    assert {j.id for j in (await world.service.list(ALICE)).jobs} == {private.id, grouped.id}


async def test_max_jobs_per_user(tmp_path: Path):
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"), max_jobs_per_user=2)
    await world.create(ALICE, message="1", every="1h")
    await world.create(ALICE, message="2", every="1h")
    with pytest.raises(PermissionDenied, match="limit is 2"):
        await world.create(ALICE, message="3", every="1h")
    await world.create(BOB, message="bob's", every="1h")
    await world.create(ADMIN, message="a", every="1h")
    await world.create(ADMIN, message="b", every="1h")
    await world.create(ADMIN, message="c", every="1h")
    await world.store.close()


async def test_allow_members_off_leaves_creation_to_admins(tmp_path: Path):
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"), allow_members=False)
    with pytest.raises(PermissionDenied, match="only admins"):
        await world.create(ALICE, message="x", run_at="1h")
    assert (await world.create(ADMIN, message="x", run_at="1h")).id
    await world.store.close()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"message": "x", "every": "30s"}, "more often than the minimum"),
        ({"message": "x", "cron": "* * * * *", "tz": "UTC"}, None),
        ({"message": "x", "cron": "0 0 31 2 *"}, "never fires"),
        ({"message": "x"}, "exactly one of"),
        ({"message": "x", "run_at": "1h", "every": "2h"}, "exactly one of"),
        ({"message": "x", "run_at": "every 2h"}, "one-time"),
        ({"message": "", "run_at": "1h"}, "empty"),
        ({"message": " \x00\x07 ", "run_at": "1h"}, "empty"),
        ({"message": "x" * 8001, "run_at": "1h"}, "limit is 8000"),
        ({"message": "x", "run_at": "1h", "tz": "Nowhere/Land"}, "unknown time zone"),
        ({"message": "x", "run_at": "1h", "mode": "psychic"}, "unknown mode"),
        ({"message": "x", "run_at": "1h", "catch_up": "maybe"}, "unknown catch_up"),
        ({"message": "x", "run_at": "1h", "timeout_seconds": -1}, "between 1 and 86400"),
        ({"message": "x", "run_at": "1h", "name": "n" * 81}, "longer than 80"),
    ],
)
async def test_bad_requests_are_refused_with_a_reason(world: World, fields, message):
    if message is None:
        assert (await world.create(ALICE, **fields)).id
        return
    with pytest.raises(UserError, match=message):
        await world.create(ALICE, **fields)
    assert (await world.store.counts())["total"] == 0


async def test_control_characters_are_dropped_from_text(world: World):
    job = await world.create(ALICE, message="a\x00b\x1b[31mc\nd", name="x\ty\x07z", run_at="1h")
    assert job.payload.message == "ab[31mc\nd" and job.name == "x yz"


async def test_only_admins_deliver_to_another_chat(world: World):
    elsewhere = {"channel": "qq", "to": "GroupMessage:99"}
    with pytest.raises(PermissionDenied, match="only admins may deliver"):
        await world.create(ALICE, message="x", run_at="1h", **elsewhere)
    own = await world.create(ALICE, message="x", run_at="1h", to=ALICE.origin)
    assert own.target.to == ALICE.origin
    assert (await world.create(ADMIN, message="x", run_at="1h", **elsewhere)).target.channel == "qq"


async def test_edit_reschedules_only_when_the_schedule_changes(world: World):
    job = await world.create(ALICE, message="x", cron="0 9 * * *", tz="Asia/Shanghai")
    assert job.next_run_at == at("2026-01-06 09:00", "Asia/Shanghai")
    moved = await world.service.edit(ALICE, job.id, JobChanges(tz="Europe/Berlin"))
    assert moved.next_run_at == at("2026-01-06 09:00", "Europe/Berlin")  # 10:00 there now
    again = await world.service.edit(ALICE, job.id, JobChanges(when="every 2h"))
    assert again.schedule.kind.value == "every" and again.next_run_at == at("2026-01-05 11:00")
    renamed = await world.service.edit(ALICE, job.id, JobChanges(name="n"))
    assert renamed.next_run_at == again.next_run_at
    assert describe_next_run(renamed) == "next run: 2026-01-05 12:00:00 CET (Europe/Berlin)"


async def test_jobs_default_to_the_configured_zone_then_the_hosts(tmp_path: Path):
    world = await make_world(
        tmp_path / "t.db", at("2026-01-05 09:00"), host_timezone="Asia/Shanghai"
    )
    job = await world.create(ALICE, message="x", run_at="2026-01-05T18:00")
    assert job.schedule.tz == "Asia/Shanghai"
    assert job.next_run_at == at("2026-01-05 18:00", "Asia/Shanghai")
    assert "CST (Asia/Shanghai)" in describe_next_run(job)
    world.settings.default_timezone = "Europe/Berlin"
    assert (await world.create(ALICE, message="x", run_at="20m")).schedule.tz == "Europe/Berlin"
    await world.store.close()


async def test_loose_input_with_unknown_fields_is_refused():
    with pytest.raises(UserError, match="unknown field 'colour'"):
        JobSpec.from_mapping({"message": "x", "colour": "red"})
    assert JobSpec.from_mapping({"message": "x", "model": "gpt"}).provider_id == "gpt"


async def test_run_now_on_a_running_job_says_so(world: World):
    import asyncio

    job = await world.create(ALICE, message="x", every="1h")
    world.executor.holds[job.id] = asyncio.Event()
    await world.service.run_now(ALICE, job.id)
    with pytest.raises(UserError, match="running right now"):
        await world.service.run_now(ALICE, job.id)
    world.executor.holds[job.id].set()
    await world.engine.drain()


async def test_status_reports_counts_and_the_next_wake(world: World):
    job = await world.create(ALICE, message="x", every="1h")
    await world.create(
        ALICE,
        message="y",
        every="2h",
    )
    await world.service.set_enabled(ALICE, job.id, False)
    status = await world.service.status()
    assert status["jobs"] == {"total": 2, "enabled": 1, "disabled": 1, "running": 0}
    assert status["next_wake_at"] == at("2026-01-05 11:00")
    assert status["enabled"] is True and status["database_path"].endswith("tasks.db")


async def test_catch_up_default_comes_from_the_settings(world: World):
    world.settings.catch_up_default = "skip"
    assert (await world.create(ALICE, message="x", every="1h")).catch_up.value == "skip"
    assert (
        await world.create(ADMIN, message="x", every="1h", catch_up="all")
    ).catch_up.value == "all"
