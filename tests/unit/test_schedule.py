"""Schedules as pure functions: DST gaps and repeats, zones, the every grid."""

from __future__ import annotations

from collections import Counter

import pytest

from core.cadence import gap_below
from core.models import Schedule, ScheduleKind
from core.schedule import (
    MS,
    ScheduleError,
    format_local,
    ms_to_local,
    next_cron_after,
    next_every_after,
    validate_cron,
)

from .conftest import at

LA, BERLIN = "America/Los_Angeles", "Europe/Berlin"

# (zone, expression, day of the change, expected local fire that day, its UTC offset)
DST_CASES = [
    (LA, "30 2 * * *", "2026-03-08", "03:00", "-07:00"),  # in the gap: first instant after
    (LA, "30 1 * * *", "2026-03-08", "01:30", "-08:00"),
    (LA, "30 1 * * *", "2026-11-01", "01:30", "-07:00"),  # repeated: the first (PDT) only
    (LA, "30 2 * * *", "2026-11-01", "02:30", "-08:00"),
    (BERLIN, "30 2 * * *", "2026-03-29", "03:00", "+02:00"),  # in the gap
    (BERLIN, "30 1 * * *", "2026-03-29", "01:30", "+01:00"),
    (BERLIN, "30 2 * * *", "2026-10-25", "02:30", "+02:00"),  # repeated: the first (CEST)
    (BERLIN, "30 1 * * *", "2026-10-25", "01:30", "+02:00"),
]


def _fires(expr: str, tz: str, start_ms: int, count: int) -> list[int]:
    fires, cursor = [], start_ms
    for _ in range(count):
        cursor = next_cron_after(expr, tz, cursor)
        fires.append(cursor)
    return fires


@pytest.mark.parametrize(("tz", "expr", "day", "clock", "offset"), DST_CASES)
def test_dst_fires_once_per_local_day_at_the_spec_instant(tz, expr, day, clock, offset):
    fires = _fires(expr, tz, at(f"{day} 00:00", tz) - 3 * 86_400_000, 7)
    days = Counter(ms_to_local(f, tz).date().isoformat() for f in fires)
    assert all(n == 1 for n in days.values()), days
    assert len(days) == 7
    on_the_day = [ms_to_local(f, tz) for f in fires if ms_to_local(f, tz).date().isoformat() == day]
    assert len(on_the_day) == 1
    assert on_the_day[0].strftime("%H:%M") == clock
    assert on_the_day[0].isoformat().endswith(offset)


@pytest.mark.parametrize("tz", [LA, BERLIN])
def test_second_pass_of_repeated_hour_fires_nothing(tz):
    day = "2026-11-01" if tz == LA else "2026-10-25"
    hour = "01" if tz == LA else "02"
    first = next_cron_after(f"30 {hour} * * *", tz, at(f"{day} 00:00", tz))
    # a moment inside the second pass of the repeated hour, e.g. after a restart there
    second_pass = first + 3_600_000 + 5 * 60_000
    assert ms_to_local(second_pass, tz).strftime("%H:%M") == f"{hour}:35"
    nxt = next_cron_after(f"30 {hour} * * *", tz, second_pass)
    assert ms_to_local(nxt, tz).date().isoformat() > day
    # every-15-minutes through the repeated hour: each wall time once, never twice
    fires = _fires("*/15 * * * *", tz, at(f"{day} 00:50", tz), 12)
    walls = [ms_to_local(f, tz).strftime("%H:%M") for f in fires]
    assert len(walls) == len(set(walls)), walls


def test_shanghai_daily_never_in_the_past_or_wrong_year():
    tz = "Asia/Shanghai"
    cursor = at("2026-12-31 08:00", tz)
    for _ in range(400):
        nxt = next_cron_after("0 8 * * *", tz, cursor)
        assert nxt > cursor
        assert nxt - cursor == 86_400_000  # no DST in Shanghai: exactly a day
        assert ms_to_local(nxt, tz).strftime("%H:%M") == "08:00"
        cursor = nxt
    assert (
        ms_to_local(next_cron_after("0 8 * * *", tz, at("2026-12-31 08:00", tz)), tz).year == 2027
    )


def test_next_is_strictly_after_a_run_ending_within_the_same_second():
    tz = "Asia/Shanghai"
    fire = at("2026-05-01 08:00", tz)
    for end in (fire, fire + 1, fire + 999):
        assert next_cron_after("0 8 * * *", tz, end) == fire + 86_400_000


def test_every_stays_on_its_anchor_grid():
    anchor = at("2026-01-05 09:14")
    every = 30 * 60_000
    assert next_every_after(anchor, every, at("2026-01-05 10:10")) == at("2026-01-05 10:14")
    # after a long pause the next slot is still on the grid
    after_pause = next_every_after(anchor, every, at("2026-01-09 17:01"))
    assert after_pause == at("2026-01-09 17:14")
    assert next_every_after(anchor, every, anchor - 1) == anchor
    assert next_every_after(anchor, every, anchor) == anchor + every


def test_cron_validation_messages():
    assert validate_cron("0  7 * *  MON-FRI") == "0 7 * * MON-FRI"
    for bad in ("* * * *", "* * * * * *", "61 * * * *", "0 25 * * *", "a b c d e"):
        with pytest.raises(ScheduleError, match="cron"):
            validate_cron(bad)
    with pytest.raises(ScheduleError, match="never fires"):
        next_cron_after("0 0 31 2 *", "UTC", at("2026-01-01 00:00"))


def test_unknown_zone_is_a_clear_error():
    for bad in ("Mars/Olympus", "../etc/passwd", "", "UTC+8"):
        with pytest.raises(ScheduleError, match="time zone"):
            next_cron_after("0 8 * * *", bad, 0)


def test_vixie_or_of_day_of_month_and_day_of_week():
    # "on the 1st OR on Mondays": 2026-06-01 is a Monday, 2026-06-08 a Monday, 2026-07-01 a Wed
    fires = _fires("0 9 1 * mon", "UTC", at("2026-06-01 10:00"), 5)
    dates = [ms_to_local(f, "UTC").date().isoformat() for f in fires]
    assert dates == ["2026-06-08", "2026-06-15", "2026-06-22", "2026-06-29", "2026-07-01"]


def _cron(expr: str, tz: str = "UTC") -> Schedule:
    return Schedule(kind=ScheduleKind.CRON, tz=tz, expr=expr)


HOUR_MS = 3600 * MS


@pytest.mark.parametrize(
    ("expr", "tz", "minimum_ms", "gap"),
    [
        ("*/15 * * * *", "UTC", HOUR_MS, 15 * 60 * MS),  # within a day
        ("0 9 * * mon-fri", "UTC", HOUR_MS, None),
        ("0 9 * * mon-fri", "UTC", 2 * 86_400_000, 86_400_000),  # Mon -> Tue
        ("* * 29 2 *", "UTC", HOUR_MS, 60 * MS),  # only in leap years, years away
        ("0 0,23 * * *", "UTC", 2 * HOUR_MS, HOUR_MS),  # 23:00 -> 00:00 the next day
        ("0 0,23 29 2 *", "UTC", 2 * HOUR_MS, None),  # one firing day in four years
        ("0 0,23 28,29 2 *", "UTC", 2 * HOUR_MS, HOUR_MS),  # 28th -> 29th, leap years only
        ("0 0,23 13 * fri", "UTC", 2 * HOUR_MS, HOUR_MS),  # the 13th OR Fridays: Thu 13, Fri 14
        ("0 0 L * *", "UTC", 2 * 86_400_000, None),  # the last day of each month
        # 01:59 and 03:00 on the wall are 1 min apart when the clocks jump 02:00 -> 03:00
        ("59 1 * * *", "Europe/Berlin", HOUR_MS, None),
        ("0,59 1,3 * * *", "Europe/Berlin", HOUR_MS // 2, 60 * MS),
        ("0,59 1,3 * * *", "UTC", HOUR_MS // 2, None),
        ("0 * * * *", "Europe/Berlin", HOUR_MS, None),
    ],
)
def test_the_tightest_gap_is_found_over_the_whole_calendar_cycle(expr, tz, minimum_ms, gap):
    assert gap_below(_cron(expr, tz), minimum_ms, at("2026-01-05 09:00")) == gap


def test_interval_gaps_are_their_interval_and_a_one_shot_has_none():
    every = Schedule(kind=ScheduleKind.EVERY, every_ms=30 * 60 * MS, anchor_ms=0)
    assert gap_below(every, HOUR_MS, 0) == 30 * 60 * MS
    assert gap_below(every, 60 * MS, 0) is None
    assert gap_below(Schedule(kind=ScheduleKind.AT, at_ms=5), HOUR_MS, 0) is None


def test_format_local():
    assert format_local(at("2026-01-12 18:00", "Asia/Shanghai"), "Asia/Shanghai") == (
        "2026-01-12 18:00:00 CST (Asia/Shanghai)"
    )
