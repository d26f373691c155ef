"""The time-phrase corpus (``timephrases.tsv``): phrases people type, each with the
outcome expected from a fixed "now" and zone. Shared by the unit test and by
``bench/timephrases.py``, which scores other readers on the same rows.

An expected instant is written as a local wall time; the loader checks that this wall
time exists exactly once in its zone (or carries an offset that picks one), so a row can
not lean on the reader's own DST rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

CORPUS = Path(__file__).with_name("timephrases.tsv")

CONTEXTS: dict[str, tuple[str, str]] = {
    # name: (zone, local "now"); the comment says why the moment is there
    "SH": ("Asia/Shanghai", "2026-11-27 09:30"),  # a Friday morning
    "SHW": ("Asia/Shanghai", "2026-11-25 14:00"),  # a Wednesday: "next friday" has two readings
    "SHN": ("Asia/Shanghai", "2026-11-27 23:50"),  # ten minutes before midnight
    "SHE": ("Asia/Shanghai", "2026-12-31 22:30"),  # the last evening of the year
    "SHL": ("Asia/Shanghai", "2028-02-28 21:00"),  # the eve of a leap day (a Monday)
    "LAS": ("America/Los_Angeles", "2026-03-07 22:00"),  # before clocks jump 02:00 -> 03:00
    "LAF": ("America/Los_Angeles", "2026-10-31 20:00"),  # before 01:00-02:00 repeats
    "BES": ("Europe/Berlin", "2026-03-28 12:00"),  # before clocks jump 02:00 -> 03:00
    "BEF": ("Europe/Berlin", "2026-10-24 18:00"),  # before 02:00-03:00 repeats
    "UTM": ("UTC", "2026-11-30 07:00"),  # a Monday: "monday" has two readings
}

_UNITS_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}


@dataclass(frozen=True, slots=True)
class Expected:
    """``kind`` is at / every / cron / ask / refuse."""

    kind: str
    at_ms: int | None = None
    every_ms: int | None = None
    expr: str | None = None

    @property
    def accepts(self) -> bool:
        return self.kind in ("at", "every", "cron")


@dataclass(frozen=True, slots=True)
class Case:
    context: str
    phrase: str
    expected: Expected
    line: int

    @property
    def tz(self) -> str:
        return CONTEXTS[self.context][0]

    @property
    def now_ms(self) -> int:
        return wall_ms(CONTEXTS[self.context][1], self.tz)

    @property
    def chinese(self) -> bool:
        return not self.phrase.isascii()


def wall_ms(text: str, tz: str) -> int:
    """A local wall time that exists once in ``tz`` (or has an offset) as UTC ms."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        zone = ZoneInfo(tz)
        first, second = moment.replace(tzinfo=zone, fold=0), moment.replace(tzinfo=zone, fold=1)
        back = datetime.fromtimestamp(first.timestamp(), zone).replace(tzinfo=None)
        if first.utcoffset() != second.utcoffset() or back != moment:
            raise ValueError(f"{text} is not one instant in {tz}: write it with an offset")
        moment = first
    return round(moment.timestamp() * 1000)


def duration_ms(text: str) -> int:
    parts = re.findall(r"(\d+)([dhms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text}")
    return sum(int(n) * _UNITS_MS[u] for n, u in parts)


def _expected(text: str, tz: str, now_ms: int) -> Expected:
    kind, _, value = text.partition(" ")
    if text.startswith("+"):
        return Expected("at", at_ms=now_ms + duration_ms(text[1:]))
    if kind == "at":
        return Expected("at", at_ms=wall_ms(value, tz))
    if kind == "every":
        return Expected("every", every_ms=duration_ms(value))
    if kind == "cron":
        return Expected("cron", expr=value)
    if text in ("ask", "refuse"):
        return Expected(text)
    raise ValueError(f"unknown expectation {text!r}")


def load_cases() -> list[Case]:
    cases = []
    for number, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        context, phrase, expected = line.split("\t")
        zone_name, now = CONTEXTS[context]
        now_ms = wall_ms(now, zone_name)
        cases.append(Case(context, phrase, _expected(expected, zone_name, now_ms), number))
    return cases
