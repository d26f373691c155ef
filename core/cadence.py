"""How close together a schedule's real fires come, over a full cycle of the expression.

Sampling the next few hundred days misses what comes rarely: ``* * 29 2 *`` fires every
minute, but only on 29 February, which may be years away. So the gap is worked out from
the expression itself:

- within a day, the fires are the hour x minute fields, the same every firing day;
- across days, the last fire of one firing day meets the first of the next: the closest
  two firing days of the whole calendar cycle (400 Gregorian years: leap years, and
  day-of-month x day-of-week) decide that gap;
- at a daylight-saving change two fires on either side of the skipped hour come closer
  in real time than on the wall clock, so the real fires around each change of the zone
  in the coming 28 years (every weekday x date x leap-year combination) are walked too.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from functools import lru_cache

from croniter import croniter

from .models import Schedule, ScheduleKind
from .schedule import MS, fires_between, zone

DAY_MINUTES = 24 * 60
_CYCLE_DAYS = 146_097  # 400 Gregorian years: the calendar repeats exactly
_ZONE_YEARS = 28  # every weekday x date x leap-year combination, within a century
_SPECIAL = ("l", "#", "w", "?")  # day fields croniter reads that plain sets can not say


def gap_below(schedule: Schedule, minimum_ms: int, from_ms: int) -> int | None:
    """A gap between two consecutive real fires that is shorter than ``minimum_ms``, if
    the schedule has one (the shortest such gap found); None when every gap is at least
    ``minimum_ms``, and for a one-shot."""
    if schedule.kind == ScheduleKind.AT:
        return None
    if schedule.kind == ScheduleKind.EVERY:
        assert schedule.every_ms is not None
        return schedule.every_ms if schedule.every_ms < minimum_ms else None
    assert schedule.expr is not None
    wall = _wall_gap_below(schedule.expr, minimum_ms // MS)
    if wall is not None:
        return wall
    return _zone_gap_below(schedule, minimum_ms, from_ms)


def _wall_gap_below(expr: str, minimum_s: int) -> int | None:
    """The shortest wall-clock gap below the minimum, within a day or across firing days."""
    minutes, hours = croniter(expr).expanded[:2]
    times = sorted(
        h * 60 + m
        for h in (range(24) if hours == ["*"] else hours)
        for m in (range(60) if minutes == ["*"] else minutes)
    )
    within = min((b - a for a, b in itertools.pairwise(times)), default=None)
    if within is not None and within * 60 < minimum_s:
        return within * 60 * MS
    span = times[-1] - times[0]
    # Firing days k apart leave (k days - span) between the last fire and the next first.
    days_needed = -(-(minimum_s + span * 60) // (DAY_MINUTES * 60))
    if days_needed <= 1:
        return None
    closest = _closest_firing_days(expr, days_needed)
    if closest is None:
        return None
    return (closest * DAY_MINUTES - span) * 60 * MS


@lru_cache(maxsize=256)
def _closest_firing_days(expr: str, below: int) -> int | None:
    """The fewest days between two firing days of ``expr`` over the calendar cycle, if
    fewer than ``below``; None otherwise."""
    fields = expr.split()
    if any(mark in (fields[2] + fields[4]).lower() for mark in _SPECIAL):
        return _closest_by_croniter(expr, below)
    doms, months, dows = croniter(expr).expanded[2:]
    day_or = doms != ["*"] and dows != ["*"]
    dom_set = set(range(1, 32)) if doms == ["*"] else set(doms)
    month_set = set(range(1, 13)) if months == ["*"] else set(months)
    dow_set = set(range(7)) if dows == ["*"] else {d % 7 for d in dows}
    start = date(2000, 1, 1).toordinal()
    previous = None
    for ordinal in range(start, start + _CYCLE_DAYS + below):
        day = date.fromordinal(ordinal)
        if day.month not in month_set:
            continue
        on_dom, on_dow = day.day in dom_set, (day.isoweekday() % 7) in dow_set
        if not (on_dom or on_dow if day_or else on_dom and on_dow):
            continue
        if previous is not None and ordinal - previous < below:
            return ordinal - previous
        previous = ordinal
    return None


def _closest_by_croniter(expr: str, below: int) -> int | None:
    """The same for the special day forms (last day, nth weekday): they fire at most a
    few times a month, so croniter walks them over the 28-year zone window."""
    fields = expr.split()
    days = croniter(" ".join(["0", "0", *fields[2:]]), datetime(2000, 1, 1))
    previous = None
    for _ in range(_ZONE_YEARS * 12 * 5):
        current = days.get_next(datetime).date().toordinal()
        if previous is not None and current - previous < below:
            return current - previous
        previous = current
    return None


def _zone_gap_below(schedule: Schedule, minimum_ms: int, from_ms: int) -> int | None:
    """Real fires on either side of each daylight-saving change of the zone."""
    shortest = None
    for change in _zone_changes(schedule.tz, from_ms // (365 * 86_400_000)):
        fires = fires_between(schedule, change - minimum_ms, change + minimum_ms, 64)
        for a, b in itertools.pairwise(fires):
            if b - a < minimum_ms and (shortest is None or b - a < shortest):
                shortest = b - a
    return shortest


@lru_cache(maxsize=64)
def _zone_changes(tz: str, from_year_index: int) -> tuple[int, ...]:
    """The instants (ms) at which ``tz`` changes its UTC offset in the 28 years from the
    start of year ``1970 + from_year_index``."""
    tzinfo = zone(tz)
    first = datetime(1970 + from_year_index, 1, 1, tzinfo=tzinfo)
    changes = []
    previous = first
    for day in range(1, _ZONE_YEARS * 366):
        current = first + timedelta(days=day)
        if current.utcoffset() != previous.utcoffset():
            changes.append(_change_between(previous, current))
        previous = current
    return tuple(changes)


def _change_between(before: datetime, after: datetime) -> int:
    """The instant of the offset change between two aware moments a day apart."""
    low, high = int(before.timestamp()), int(after.timestamp())
    offset = after.utcoffset()
    while high - low > 1:
        mid = (low + high) // 2
        if datetime.fromtimestamp(mid, after.tzinfo).utcoffset() == offset:
            high = mid
        else:
            low = mid
    return high * MS
