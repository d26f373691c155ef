"""Schedules as pure functions: DST gaps and repeats, zones, the every grid."""

from __future__ import annotations

from collections import Counter

import pytest

from core.models import Schedule, ScheduleKind
from core.schedule import (
    MS,
    ScheduleError,
    format_local,
    ms_to_local,
    next_cron_after,
    next_every_after,
    shortest_interval_ms,
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


def test_shortest_interval_and_format():
    cron = Schedule(kind=ScheduleKind.CRON, tz="UTC", expr="*/15 * * * *")
    assert shortest_interval_ms(cron, 0) == 15 * 60 * MS
    weekdays = Schedule(kind=ScheduleKind.CRON, tz="UTC", expr="0 9 * * mon-fri")
    assert shortest_interval_ms(weekdays, 0) == 86_400_000
    assert format_local(at("2026-01-12 18:00", "Asia/Shanghai"), "Asia/Shanghai") == (
        "2026-01-12 18:00:00 CST (Asia/Shanghai)"
    )
