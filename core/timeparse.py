"""Turn what people type (``20m``, ``08:00``, ``every 2h``, ISO, cron) into a Schedule.

An ISO time without an offset is read in the job's zone, not in UTC: "18:00" from a
user in Shanghai means 18:00 in Shanghai.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from .errors import UserError
from .models import Schedule, ScheduleKind
from .schedule import MS, local_to_ms, ms_to_local, validate_cron, zone

WHEN_FORMS = (
    "20m | 1h30m | 45s | 2d (once, after that long) | 2026-01-12T18:00[+08:00] | "
    '08:00 (next 08:00) | every 2h | "0 7 * * mon-fri" (cron)'
)
MAX_AHEAD_MS = 10 * 366 * 24 * 3600 * MS
PAST_TOLERANCE_MS = 60 * MS

_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}
_DURATION = re.compile(r"^(?:(\d{1,6})d)?(?:(\d{1,7})h)?(?:(\d{1,9})m(?:in)?)?(?:(\d{1,10})s)?$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


def parse_duration_ms(text: str) -> int | None:
    """``1h30m`` -> 5 400 000; None when ``text`` is not a duration (or is zero)."""
    compact = text.strip().lower().replace(" ", "")
    match = _DURATION.match(compact)
    if not compact or not match or not any(match.groups()):
        return None
    total = sum(int(v) * _UNIT_MS[u] for v, u in zip(match.groups(), "dhms", strict=True) if v)
    return total or None


def parse_when(text: str, tz: str, now_ms: int) -> Schedule:
    """Parse a ``<when>`` in zone ``tz`` at time ``now_ms``; a UserError shows the forms."""
    zone(tz)
    raw = " ".join(str(text).split())
    spec = raw.strip("\"'` ").strip()
    if not spec:
        raise UserError(f"missing time; use one of: {WHEN_FORMS}")
    lowered = spec.lower()
    if lowered.startswith("every "):
        return parse_every(spec[6:], tz, now_ms, text=raw)
    if lowered.startswith("cron "):
        return parse_cron(spec[5:], tz, text=raw)
    if lowered.startswith("in "):
        spec = spec[3:].strip()
    duration = parse_duration_ms(spec)
    if duration is not None:
        return at_schedule(now_ms + duration, tz, now_ms, text=raw)
    clock = _CLOCK.match(spec)
    if clock:
        return at_schedule(_next_wall_clock(clock, tz, now_ms), tz, now_ms, text=raw)
    if len(spec.split()) == 5:
        return parse_cron(spec, tz, text=raw)
    iso = _parse_iso(spec, tz)
    if iso is not None:
        return at_schedule(iso, tz, now_ms, text=raw)
    raise UserError(f"cannot read the time {raw[:80]!r}; use one of: {WHEN_FORMS}")


def parse_every(interval: str, tz: str, now_ms: int, *, text: str = "") -> Schedule:
    """An interval schedule anchored now: it fires at now + k * interval, without drift."""
    every_ms = parse_duration_ms(interval)
    if every_ms is None:
        raise UserError(
            f"cannot read the interval {interval[:40]!r}; examples: every 10m, every 2h, every 1d"
        )
    return Schedule(
        kind=ScheduleKind.EVERY,
        tz=tz,
        every_ms=every_ms,
        anchor_ms=now_ms,
        text=text or f"every {interval.strip()}",
    )


def parse_cron(expr: str, tz: str, *, text: str = "") -> Schedule:
    normal = validate_cron(expr.strip("\"'` "))
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


def _next_wall_clock(match: re.Match[str], tz: str, now_ms: int) -> int:
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    today = ms_to_local(now_ms, tz).replace(tzinfo=None)
    candidate = today.replace(hour=hour, minute=minute, second=second, microsecond=0)
    for _ in range(3):
        at_ms = local_to_ms(candidate, tz)
        if at_ms > now_ms:
            return at_ms
        candidate += timedelta(days=1)
    raise UserError("cannot find the next such time")  # pragma: no cover - DST cannot skip 3 days


def _parse_iso(spec: str, tz: str) -> int | None:
    try:
        moment = datetime.fromisoformat(spec.replace(" ", "T", 1) if " " in spec else spec)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return local_to_ms(moment, tz)
    return round(moment.timestamp() * MS)
