"""What people type, read in the job's zone."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.models import ScheduleKind
from core.timeparse import parse_duration_ms, parse_when

from .conftest import at

NOW = at("2026-01-05 09:00", "Asia/Shanghai")
TZ = "Asia/Shanghai"


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("20m", 20 * 60_000),
        ("1h30m", 90 * 60_000),
        ("45s", 45_000),
        ("2d", 2 * 86_400_000),
        ("1d2h3m4s", 86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4_000),
        ("10min", 600_000),
        (" 2H ", 7_200_000),
    ],
)
def test_durations(text, ms):
    assert parse_duration_ms(text) == ms
    schedule = parse_when(text, TZ, NOW)
    assert schedule.kind == ScheduleKind.AT and schedule.at_ms == NOW + ms


@pytest.mark.parametrize("text", ["", "0m", "m", "h1", "1x", "1.5h", "-5m", "99999999999s"])
def test_not_durations(text):
    assert parse_duration_ms(text) is None


def test_wall_clock_is_the_next_such_time_in_the_zone():
    assert parse_when("08:00", TZ, NOW).at_ms == at("2026-01-06 08:00", TZ)  # tomorrow
    assert parse_when("18:30", TZ, NOW).at_ms == at("2026-01-05 18:30", TZ)  # today
    assert parse_when("9:00", TZ, NOW).at_ms == at("2026-01-06 09:00", TZ)  # now is not next
    la = "America/Los_Angeles"
    spring = at("2026-03-08 01:00", la)
    assert parse_when("02:30", la, spring).at_ms == at("2026-03-08 03:00", la)  # in the gap


def test_iso_without_offset_is_read_in_the_jobs_zone_with_offset_the_offset_wins():
    local = parse_when("2026-01-12T18:00", TZ, NOW)
    assert local.at_ms == at("2026-01-12 18:00", TZ)
    assert parse_when("2026-01-12 18:00", TZ, NOW).at_ms == local.at_ms
    assert parse_when("2026-01-12T18:00:00+08:00", "Europe/Berlin", NOW).at_ms == local.at_ms
    assert parse_when("2026-01-12T10:00:00Z", "Europe/Berlin", NOW).at_ms == local.at_ms


def test_every_and_cron_forms():
    every = parse_when("every 2h", TZ, NOW)
    assert every.kind == ScheduleKind.EVERY and every.every_ms == 7_200_000
    assert every.anchor_ms == NOW and every.text == "every 2h"
    for text in ('"0 7 * * mon-fri"', "0 7 * * mon-fri", "cron 0 7 * * mon-fri", "'0 7 * * 1-5'"):
        cron = parse_when(text, TZ, NOW)
        assert cron.kind == ScheduleKind.CRON and cron.tz == TZ


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tomorrow-ish", "cannot read the time"),
        ("25:00", "the hour is 0 to 23"),
        ("every fortnight", "cannot read the interval"),
        ('"0 7 * *"', "cannot read the time"),
        ('"99 7 * * *"', "invalid cron"),
        ("2020-01-01T00:00", "in the past"),
        ("2999-01-01T00:00", "10 years"),
        ("", "missing time"),
    ],
)
def test_bad_input_says_what_is_wrong_and_shows_the_forms(text, message):
    with pytest.raises(UserError, match=message):
        parse_when(text, TZ, NOW)


def test_unknown_zone_is_refused():
    with pytest.raises(UserError, match="unknown time zone"):
        parse_when("20m", "Moon/Base", NOW)
