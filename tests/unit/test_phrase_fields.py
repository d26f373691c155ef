"""Phrases through the service (every tool field and the web API go this way), and how a
reply states the time they were read as."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.models import ScheduleKind
from core.present import interpreted_time

from .conftest import World, at

# The world's clock starts on Monday 2026-01-05 09:00 UTC.


async def test_every_time_field_takes_phrases(world: World):
    weekly = await world.create(message="周报", when="每周五下午5点", tz="Asia/Shanghai")
    assert (weekly.schedule.kind, weekly.schedule.expr) == (ScheduleKind.CRON, "0 17 * * fri")
    assert weekly.schedule.tz == "Asia/Shanghai"
    interval = await world.create(message="drink", every="2 hours")
    assert interval.schedule.every_ms == 2 * 3_600_000
    chinese_interval = await world.create(message="喝水", every="每隔30分钟")
    assert chinese_interval.schedule.every_ms == 30 * 60_000
    cron = await world.create(message="stand-up", cron="every weekday at 9")
    assert cron.schedule.expr == "0 9 * * mon-fri"
    once = await world.create(message="Time for the meeting", run_at="tomorrow 8am")
    assert once.next_run_at == at("2026-01-06 08:00")


async def test_run_at_refuses_a_recurring_phrase_and_cron_a_one_time_one(world: World):
    with pytest.raises(UserError, match="run_at is a one-time moment"):
        await world.create(message="x", run_at="every day at 9")
    with pytest.raises(UserError, match="cron expression"):
        await world.create(message="x", cron="tomorrow 8am")


async def test_the_reply_states_the_time_in_words_and_previews_three_runs(world: World):
    once = await world.create(message="call", run_at="tomorrow 8am")
    assert interpreted_time(once, once.created_at) == ["when: tomorrow, Tue 6 Jan, 08:00 UTC"]
    daily = await world.create(message="stand-up", when="every weekday at 9")
    assert interpreted_time(daily, daily.created_at) == [
        "repeats: cron 0 9 * * mon-fri (UTC)",
        "next runs: tomorrow, Tue 6 Jan, 09:00 UTC; Wed 7 Jan, 09:00 UTC; Thu 8 Jan, 09:00 UTC",
        "note: 9 read as 09:00; for 21:00 write 9pm",
    ]


async def test_a_bare_hour_read_one_way_is_said_back_with_the_other_form(world: World):
    once = await world.create(message="call", run_at="tomorrow at 9")
    assert interpreted_time(once, once.created_at) == [
        "when: tomorrow, Tue 6 Jan, 09:00 UTC",
        "note: 9 read as 09:00; for 21:00 write 9pm",
    ]
    daily = await world.create(message="喝水", when="每天8点", tz="Asia/Shanghai")
    assert interpreted_time(daily, daily.created_at)[-1] == (
        "note: 8 read as 08:00; for 20:00 write 晚上8点"
    )
    said = await world.create(message="call", run_at="tomorrow 9pm")
    assert not any(line.startswith("note:") for line in interpreted_time(said, said.created_at))
