"""Turn what people type (``20m``, ``08:00``, ``every 2h``, ISO, cron, and phrases such
as ``tomorrow 8am`` or ``每周五下午5点``) into a Schedule.

An ISO time without an offset is read in the job's zone, not in UTC: "18:00" from a
user in Shanghai means 18:00 in Shanghai. The exact forms are tried first; anything else
goes to the phrase reader (:mod:`core.phrases`), which refuses rather than guesses.
"""

from __future__ import annotations

import re
from datetime import datetime

from .errors import UserError
from .models import Schedule, ScheduleKind
from .phrases import PHRASE_EXAMPLES, Reading, next_wall_time, read_duration, read_phrase
from .schedule import MS, ScheduleError, local_to_ms, ms_to_local, validate_cron, zone

WHEN_FORMS = (
    "20m | 1h30m | 45s | 2d (once, after that long) | 2026-01-12T18:00[+08:00] | "
    '08:00 (next 08:00) | every 2h | "0 7 * * mon-fri" (cron) | phrases such as ' + PHRASE_EXAMPLES
)
MAX_AHEAD_MS = 10 * 366 * 24 * 3600 * MS
PAST_TOLERANCE_MS = 60 * MS

_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}
_DURATION = re.compile(r"^(?:(\d{1,6})d)?(?:(\d{1,7})h)?(?:(\d{1,9})m(?:in)?)?(?:(\d{1,10})s)?$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
_CRON_TIME_FIELD = re.compile(r"^[\d*/,\-]+$")


def parse_duration_ms(text: str) -> int | None:
    """``1h30m`` -> 5 400 000; None when ``text`` is not a duration (or is zero)."""
    compact = text.strip().lower().replace(" ", "")
    match = _DURATION.match(compact)
    if not compact or not match or not any(match.groups()):
        return None
    total = sum(int(v) * _UNIT_MS[u] for v, u in zip(match.groups(), "dhms", strict=True) if v)
    return total or None


def is_exact_when(word: str) -> bool:
    """One word of an exact form: a duration, a 24-hour clock or an ISO time."""
    if parse_duration_ms(word) is not None or _CLOCK.match(word):
        return True
    try:
        datetime.fromisoformat(word)
    except ValueError:
        return False
    return True


def parse_when(text: str, tz: str, now_ms: int) -> Schedule:
    """Parse a ``<when>`` in zone ``tz`` at time ``now_ms``; a UserError shows the forms."""
    zone(tz)
    raw = " ".join(str(text).split())
    spec = raw.strip("\"'` ").strip()
    if not spec:
        raise UserError(f"missing time; use one of: {WHEN_FORMS}")
    exact = _exact_form(spec, tz, now_ms, raw)
    if exact is not None:
        return exact
    reading = read_phrase(spec, tz, now_ms)
    if reading is not None:
        return schedule_of(reading, tz, now_ms, text=raw)
    if spec.lower().startswith("every "):
        return parse_every(spec[6:], tz, now_ms, text=raw)  # says how an interval is written
    raise UserError(f"cannot read the time {raw[:80]!r}; use one of: {WHEN_FORMS}")


def _exact_form(spec: str, tz: str, now_ms: int, raw: str) -> Schedule | None:
    """The forms of SPEC §3's table (durations, 08:00, ISO, every <d>, cron), or None."""
    lowered = spec.lower()
    if lowered.startswith("every ") and parse_duration_ms(spec[6:]) is not None:
        return parse_every(spec[6:], tz, now_ms, text=raw)
    if lowered.startswith("cron "):
        return parse_cron(spec[5:], tz, text=raw)
    duration = parse_duration_ms(spec[3:] if lowered.startswith("in ") else spec)
    if duration is not None:
        return at_schedule(now_ms + duration, tz, now_ms, text=raw)
    clock = _CLOCK.match(spec)
    if clock:
        hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3] or 0)
        at_ms = next_wall_time(hour * 60 + minute, second, tz, now_ms)
        return at_schedule(at_ms, tz, now_ms, text=raw)
    fields = spec.split()
    if len(fields) == 5 and all(_CRON_TIME_FIELD.match(f) for f in fields[:2]):
        return parse_cron(spec, tz, text=raw)
    iso = _parse_iso(spec, tz)
    return at_schedule(iso, tz, now_ms, text=raw) if iso is not None else None


def schedule_of(reading: Reading, tz: str, now_ms: int, *, text: str) -> Schedule:
    """The Schedule a phrase's reading stands for (one-shots checked like any other)."""
    if reading.kind == ScheduleKind.AT:
        assert reading.at_ms is not None
        return at_schedule(reading.at_ms, tz, now_ms, text=text)
    if reading.kind == ScheduleKind.EVERY:
        return Schedule(
            kind=ScheduleKind.EVERY, tz=tz, every_ms=reading.every_ms, anchor_ms=now_ms, text=text
        )
    assert reading.expr is not None
    return parse_cron(reading.expr, tz, text=text)


def parse_every(interval: str, tz: str, now_ms: int, *, text: str = "") -> Schedule:
    """An interval schedule anchored now: it fires at now + k * interval, without drift.
    ``2h``, and also ``2 hours``, ``两小时``, ``每隔两小时``."""
    every_ms = parse_duration_ms(interval) or read_duration(interval)
    if every_ms is None:
        raise UserError(
            f"cannot read the interval {interval[:40]!r}; examples: every 10m, every 2h, "
            "every 1d, 2 hours, 每隔两小时"
        )
    return Schedule(
        kind=ScheduleKind.EVERY,
        tz=tz,
        every_ms=every_ms,
        anchor_ms=now_ms,
        text=text or f"every {interval.strip()}",
    )


def parse_cron(expr: str, tz: str, *, text: str = "", now_ms: int | None = None) -> Schedule:
    """A cron expression; given ``now_ms``, a recurring phrase (``every friday at 5pm``,
    ``每周五下午5点``) is taken too and becomes one."""
    try:
        normal = validate_cron(expr.strip("\"'` "))
    except ScheduleError:
        reading = read_phrase(expr, tz, now_ms) if now_ms is not None else None
        if reading is None or reading.kind != ScheduleKind.CRON:
            raise
        return schedule_of(reading, tz, now_ms or 0, text=text or expr)
    return Schedule(kind=ScheduleKind.CRON, tz=tz, expr=normal, text=text or normal)


def at_schedule(at_ms: int, tz: str, now_ms: int, *, text: str = "") -> Schedule:
    """A one-shot at ``at_ms``, refused when it is well in the past or absurdly far ahead."""
    if at_ms < now_ms - PAST_TOLERANCE_MS:
        try:
            when = f" ({ms_to_local(at_ms, tz):%Y-%m-%d %H:%M} {tz})"
        except (ValueError, OverflowError, OSError):  # before year 1 in that zone
            when = ""
        raise UserError(
            f"that time{when} is in the past; give a future time, e.g. 20m or tomorrow's date"
        )
    if at_ms > now_ms + MAX_AHEAD_MS:
        raise UserError("that time is more than 10 years ahead; pick a nearer time")
    return Schedule(kind=ScheduleKind.AT, tz=tz, at_ms=at_ms, text=text)


def _parse_iso(spec: str, tz: str) -> int | None:
    try:
        moment = datetime.fromisoformat(spec.replace(" ", "T", 1) if " " in spec else spec)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return local_to_ms(moment, tz)
    return round(moment.timestamp() * MS)
