"""The grammar of time phrases: tokens in, the *shape* of a phrase out (no clock needed).

A phrase is a few parts in any order: a delay (``in 10 minutes``, ``半小时后``), a day
(``tomorrow``, ``next monday``, ``Dec 24``, ``下周一``, ``12月24日``), a part of the day
(``tonight``, ``早上``) and a clock time (``8am``, ``20:00``, ``3点半``), or a recurring
head (``every weekday``, ``每周五``, ``每隔两小时``) with a clock time. Reading stops at the
first token that fits nowhere, so the same grammar tells where the time in
``/cron add tomorrow 8am stand-up`` ends. What the shape *means* at a given moment (and
whether it is ambiguous) is for :mod:`core.phrases` to decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from .phrase_words import (
    MONTHS,
    PARTS,
    SMALL_NUMBERS,
    UNIT_MS,
    WEEKDAY_SHORT,
    WEEKDAYS,
    ZH_WEEKDAY,
    Token,
)


@dataclass(slots=True)
class Clock:
    hour: int
    minute: int = 0
    second: int = 0
    meridiem: str | None = None  # "am" / "pm" when said
    digital: bool = False  # written 20:00 / 8:30: a 24-hour clock
    special: str | None = None  # "noon" / "midnight"

    @property
    def bare(self) -> bool:
        """An hour from 1 to 12 said without am/pm, part of day or a 24-hour form."""
        return not (self.meridiem or self.digital or self.special) and 1 <= self.hour <= 12


@dataclass(slots=True)
class Day:
    kind: str  # offset / weekday / date / monthday
    offset: int = 0
    weekday: int = 0
    which: str = "bare"  # bare / this / next (English, may be ambiguous) / next-week (下周)
    year: int | None = None
    month: int = 0
    day: int = 0


@dataclass(slots=True)
class Recur:
    every_ms: int | None = None
    weekdays: tuple[int, ...] = ()  # empty: every day
    month_day: int | None = None


@dataclass(slots=True)
class Phrase:
    relative_ms: int | None = None
    day: Day | None = None
    part: str | None = None
    clock: Clock | None = None
    recur: Recur | None = None
    used: int = 0  # tokens read

    @property
    def empty(self) -> bool:
        return not (self.relative_ms or self.day or self.part or self.clock or self.recur)


class _Reader:
    """A cursor over the tokens with the small helpers every rule needs."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def text(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.tokens[j].text if 0 <= j < len(self.tokens) else ""

    def number(self, offset: int = 0, *, words: bool = True) -> float | None:
        j = self.i + offset
        if not 0 <= j < len(self.tokens):
            return None
        token = self.tokens[j]
        if token.kind == "num":
            return token.value
        return float(SMALL_NUMBERS[token.text]) if words and token.text in SMALL_NUMBERS else None

    def take(self, *words: str) -> bool:
        if self.text() in words:
            self.i += 1
            return True
        return False

    def take_seq(self, *words: str) -> bool:
        if all(self.text(k) == w for k, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def attempt(self, rule, *args):
        """Run ``rule``; on None put the cursor back where it was."""
        start = self.i
        result = rule(self, *args)
        if result is None:
            self.i = start
        return result


# ----- delays -------------------------------------------------------------------------------


def _unit(r: _Reader) -> int | None:
    unit = UNIT_MS.get(r.text())
    if unit is not None:
        r.i += 1
    return unit


def _amount(r: _Reader) -> tuple[int, int] | None:
    """``10 minutes``, ``1.5 hours``, ``half an hour``, ``两个半小时``, ``一刻钟``, ``an hour``:
    the length and the unit it was said in."""
    if r.take_seq("half", "an", "hour"):
        return 1_800_000, 3_600_000
    if r.take("半"):
        r.take("个")
        unit = _unit(r)
        return (unit // 2, unit) if unit else None
    count = r.number()
    if count is not None and r.text(1) == "刻钟":
        r.i += 2
        return (int(count * 900_000), 900_000) if count else None
    if count is None:
        return None
    r.i += 1
    r.take("个")
    half = r.take("半")
    unit = _unit(r)
    if unit is None or (half and unit < 60_000):
        return None
    total = count * unit + (unit // 2 if half else 0)
    if r.take_seq("and", "a", "half"):
        total += unit // 2
    return (int(total), unit) if total == int(total) and total > 0 else None


def _duration(r: _Reader) -> int | None:
    """Amounts in falling units: ``1h30m``, ``1 hour and 30 minutes`` (but ``10m a day``
    is ten minutes and some text)."""
    first = r.attempt(_amount)
    if first is None:
        return None
    total, unit = first
    while True:
        start = r.i
        r.take("and")
        more = r.attempt(_amount)
        if more is None or more[1] >= unit:
            r.i = start
            return total
        total, unit = total + more[0], more[1]


def _relative(r: _Reader) -> int | None:
    """A delay: ``in 10 minutes``, ``10 minutes``, ``10 minutes later``, ``十分钟后``."""
    r.take("in") or r.take("过") or r.take("再过")
    total = _duration(r)
    if total is None:
        return None
    if not (r.take("later") or r.take_seq("from", "now") or r.take("后", "之后", "以后")):
        r.take("after")  # "after 10 minutes"
    return total


# ----- days ---------------------------------------------------------------------------------

_DAY_WORDS = {
    "today": (0, None), "tomorrow": (1, None), "tmr": (1, None), "tmrw": (1, None),
    "tonight": (0, "night"), "今天": (0, None), "今日": (0, None), "明天": (1, None),
    "明日": (1, None), "后天": (2, None), "大后天": (3, None), "今晚": (0, "night"),
    "明晚": (1, "night"), "明早": (1, "am"), "今早": (0, "am"),
}  # fmt: skip


def _ordinal(r: _Reader) -> int | None:
    """``24``, ``24th``, ``1st``: a day of the month."""
    value = r.number(words=False)
    if value is None or value != int(value) or not 1 <= value <= 31:
        return None
    r.i += 1
    r.take("st", "nd", "rd", "th")
    return int(value)


def _year(r: _Reader) -> int | None:
    start = r.i
    r.take(",")
    value = r.number(words=False)
    if value is not None and 2000 <= value <= 2100 and value == int(value):
        r.i += 1
        return int(value)
    r.i = start
    return None


def _english_date(r: _Reader, on: bool = False) -> Day | None:
    """``Dec 24``, ``December 24th, 2026``, ``24 Dec``, ``the 24th of December``, ``the 24th``."""
    if r.text() in MONTHS:
        month = MONTHS[r.text()]
        r.i += 1
        day = _ordinal(r)
        if day is None:
            return None
        return Day("date", month=month, day=day, year=_year(r))
    said_the = r.take("the")
    day = _ordinal(r)
    if day is None:
        return None
    with_suffix = r.text(-1) in ("st", "nd", "rd", "th")
    before_of = r.i
    r.take("of")
    if r.text() not in MONTHS:
        r.i = before_of
        return Day("monthday", day=day) if said_the and with_suffix else None
    month = MONTHS[r.text()]
    r.i += 1
    return Day("date", month=month, day=day, year=_year(r))


def _english_weekday(r: _Reader, on: bool = False) -> Day | None:
    which = "this" if r.take("this") else "next" if r.take("next") else "bare"
    qualified = on or which != "bare"
    word = r.text()
    day = WEEKDAYS.get(word)
    if day is None and qualified:
        day = WEEKDAY_SHORT.get(word)
    if day is None:
        return None
    r.i += 1
    return Day("weekday", weekday=day, which=which)


def _zh_weekday_name(r: _Reader) -> int | None:
    """``周五``, ``星期天``, ``礼拜一`` (the 周/星期/礼拜 already optional)."""
    r.take("周", "星期", "礼拜")
    word = r.text()
    if word in ZH_WEEKDAY:
        r.i += 1
        return ZH_WEEKDAY[word]
    value = r.number(words=False)
    if value is not None and 1 <= value <= 7 and value == int(value):
        r.i += 1
        return int(value) - 1
    return None


def _zh_weekday(r: _Reader) -> Day | None:
    if r.take("下周", "下星期", "下礼拜") or r.take_seq("下个"):
        which = "next-week"
    elif r.take("这周", "本周", "这星期", "本星期", "这个"):
        which = "this"
    elif r.text() in ("周", "星期", "礼拜"):
        which = "bare"
    else:
        return None
    day = _zh_weekday_name(r)
    return None if day is None else Day("weekday", weekday=day, which=which)


def _zh_date(r: _Reader) -> Day | None:
    """``12月24日``, ``2026年12月24号``, ``24号`` (a day of this or next month)."""
    year = None
    if r.number(words=False) is not None and r.text(1) == "年":
        year = int(r.number() or 0)
        r.i += 2
    first = r.number()
    if first is None or first != int(first):
        return None
    if r.text(1) == "月":
        r.i += 2
        day = r.number()
        if day is None or r.text(1) not in ("日", "号"):
            return None
        r.i += 2
        return Day("date", year=year, month=int(first), day=int(day))
    if year is None and r.text(1) in ("号", "日"):
        r.i += 2
        return Day("monthday", day=int(first))
    return None


def _iso_date(r: _Reader) -> Day | None:
    token = r.tokens[r.i] if r.i < len(r.tokens) else None
    if token is None or token.kind != "iso":
        return None
    year, month, day = (int(p) for p in token.text.replace("/", "-").split("-"))
    r.i += 1
    return Day("date", year=year, month=month, day=day)


def _day(r: _Reader) -> tuple[Day, str | None] | None:
    """A day, and the part of the day a word like ``tonight`` / ``明早`` brings along."""
    word = r.text()
    if word in _DAY_WORDS:
        r.i += 1
        offset, part = _DAY_WORDS[word]
        return Day("offset", offset=offset), part
    if r.take_seq("the", "day", "after", "tomorrow") or r.take_seq("day", "after", "tomorrow"):
        return Day("offset", offset=2), None
    on = r.take("on")
    for rule in (_iso_date, _english_date, _english_weekday, _zh_weekday, _zh_date):
        day = r.attempt(rule, on) if rule in (_english_date, _english_weekday) else r.attempt(rule)
        if day is not None:
            return day, None
    return None


# ----- parts of the day and clock times -----------------------------------------------------


def _part(r: _Reader) -> str | None:
    """``morning``, ``in the evening``, ``at night``, ``this afternoon``, ``早上``."""
    word = r.text()
    if word in PARTS and not word.isascii():
        r.i += 1
        return PARTS[word]
    r.take_seq("in", "the") or r.take("at") or r.take("this")
    word = r.text()
    if word in ("morning", "afternoon", "evening", "night"):
        r.i += 1
        return PARTS[word]
    return None


def _english_clock(r: _Reader) -> Clock | None:
    said_at = r.take("at", "@")
    if r.take("noon", "midday"):
        return Clock(12, special="noon")
    if r.take("midnight"):
        return Clock(0, special="midnight")
    token = r.tokens[r.i] if r.i < len(r.tokens) else None
    if token is None or r.text() in ("a", "an"):
        return None
    if token.kind == "clock":
        parts = [int(p) for p in token.text.split(":")]
        r.i += 1
        meridiem = r.text(-1) if r.take("am", "pm") else None
        return Clock(parts[0], parts[1], parts[2] if len(parts) > 2 else 0, meridiem, not meridiem)
    hour = r.number()
    if hour is None or hour != int(hour):
        return None
    r.i += 1
    if r.take("am", "pm"):
        return Clock(int(hour), meridiem=r.text(-1))
    if r.take("o'clock", "oclock") or said_at or _part_follows(r):
        return Clock(int(hour))
    return None


def _part_follows(r: _Reader) -> bool:
    """``6 in the morning``, ``8 tonight``: a bare number is an hour when a part of the
    day follows it."""
    parts = ("morning", "afternoon", "evening", "night")
    return (
        r.text() == "tonight"
        or (r.text() == "in" and r.text(1) == "the" and r.text(2) in parts)
        or (r.text() == "at" and r.text(1) == "night")
    )


def _zh_minutes(r: _Reader) -> int | None:
    """What follows 点: 半, 一刻 / 三刻, 15分, 15, 零5分; 0 when nothing does."""
    if r.take("半"):
        return 30
    if r.tokens[r.i - 1].space_after:
        return 0  # 8点 3号楼: the 3 is not a minute
    value = r.number(words=False)
    if value is not None and r.text(1) == "刻":
        r.i += 2
        return int(value) * 15
    if value == 0 and r.number(1, words=False) is not None:
        r.i += 1  # 8点零5分
        value = r.number(words=False)
    if value is None or value != int(value) or value >= 60:
        return 0
    r.i += 1
    r.take("分")
    return int(value)


def _zh_clock(r: _Reader) -> Clock | None:
    r.take("在")
    hour = r.number(words=False)
    if hour is None or hour != int(hour) or r.text(1) not in ("点", "时", "点钟"):
        return None
    r.i += 2
    r.take("整")
    minute = _zh_minutes(r)
    return None if minute is None else Clock(int(hour), minute)


def _clock(r: _Reader) -> Clock | None:
    return r.attempt(_zh_clock) or r.attempt(_english_clock)


# ----- recurring ----------------------------------------------------------------------------


def _one_weekday(r: _Reader) -> int | None:
    word = r.text()
    if word not in ("tues", "thurs"):
        word = word.removesuffix("s")
    day = WEEKDAYS.get(word, WEEKDAY_SHORT.get(word))
    if day is not None:
        r.i += 1
        return day
    return r.attempt(_zh_weekday_name)


_RANGE_WORDS = ("到", "至", "through", "to", "-")


def _weekday_list(r: _Reader) -> tuple[int, ...] | None:
    """``monday``, ``mondays``, ``monday and thursday``, ``周一到周五``, ``mon - fri``."""
    days: list[int] = []
    connector = None
    while True:
        before = r.i
        day = _one_weekday(r)
        if day is None:
            r.i = before if not connector else before - 1
            break
        if connector in _RANGE_WORDS and days:
            start = days[-1]
            days.extend((start + k) % 7 for k in range(1, (day - start) % 7 + 1))
        else:
            days.append(day)
        connector = r.text()
        if not r.take(",", "and", "&", "和", "、", *_RANGE_WORDS):
            break
    return tuple(sorted(set(days))) if days else None


def _recurring_days(r: _Reader) -> Recur | None:
    """After ``every`` / ``每``: which days (or an interval)."""
    if r.take("day", "天", "日") or r.take("morning", "evening", "night"):
        return Recur()
    if r.take("weekday", "weekdays", "workday", "workdays", "工作日"):
        return Recur(weekdays=(0, 1, 2, 3, 4))
    if r.take("weekend", "weekends", "周末"):
        return Recur(weekdays=(5, 6))
    if r.take("month", "月"):
        r.take("on")
        day = r.attempt(_zh_date) or r.attempt(_english_date)
        return Recur(month_day=day.day) if day and day.kind == "monthday" else None
    every = r.attempt(_duration)
    if every is None and (unit := UNIT_MS.get(r.text())) and r.text() not in ("周", "星期"):
        r.i += 1
        every = unit
    if every is not None:
        return Recur(every_ms=every)
    days = r.attempt(_weekday_list)
    return Recur(weekdays=days) if days else None


def _recurring(r: _Reader) -> tuple[Recur, str | None] | None:
    """``every …``, ``daily``, ``weekdays``, ``每天``, ``每周五``, ``每隔两小时``, ``工作日``."""
    word = r.text()
    if r.take("daily", "每天", "每日", "天天"):
        return Recur(), None
    if r.take("每晚", "每早"):
        return Recur(), "night" if word == "每晚" else "am"
    if r.take("hourly"):
        return Recur(every_ms=3_600_000), None
    if r.take("weekdays", "工作日") or r.take_seq("on", "weekdays"):
        return Recur(weekdays=(0, 1, 2, 3, 4)), None
    if r.take("每周", "每星期", "每礼拜"):
        if r.take("末"):
            return Recur(weekdays=(5, 6)), None
        days = r.attempt(_weekday_list)
        return (Recur(weekdays=days), None) if days else None
    if r.take("每月"):
        day = r.attempt(_zh_date)
        return (Recur(month_day=day.day), None) if day and day.kind == "monthday" else None
    if not r.take("every", "each", "每", "每隔", "每个"):
        return None
    r.take("个")
    recur = r.attempt(_recurring_days)
    part = (
        PARTS.get(r.text(-1)) if recur and r.text(-1) in ("morning", "evening", "night") else None
    )
    return (recur, part) if recur else None


# ----- the phrase ---------------------------------------------------------------------------


def read_shape(tokens: list[Token]) -> Phrase:
    """Read as many tokens as form one time phrase; ``Phrase.used`` says how many."""
    r = _Reader(tokens)
    phrase = Phrase()
    head = r.attempt(_recurring)
    if head is not None:
        phrase.recur, phrase.part = head
        phrase.used = r.i
    while r.i < len(tokens):
        if not _read_one_part(r, phrase):
            break
        phrase.used = r.i
        r.take(",")
    return phrase


def _read_one_part(r: _Reader, phrase: Phrase) -> bool:
    """Fill one empty slot of ``phrase`` from the tokens at the cursor; False when none fits."""
    recurring = phrase.recur is not None
    if phrase.relative_ms is None and not recurring and phrase.clock is None:
        relative = r.attempt(_relative)
        if relative is not None:
            phrase.relative_ms = relative
            return True
    if phrase.day is None and not recurring:
        day = r.attempt(_day)
        if day is not None:
            phrase.day, part = day
            phrase.part = part or phrase.part
            return True
    if phrase.clock is None and (not recurring or phrase.recur.every_ms is None):
        clock = _clock(r)
        if clock is not None:
            phrase.clock = clock
            return True
    if phrase.part is None and (not recurring or phrase.recur.every_ms is None):
        part = r.attempt(_part)
        if part is not None:
            phrase.part = part
            return True
    return False
