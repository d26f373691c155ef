"""What a typed time phrase means at a given moment in a given zone.

:mod:`core.phrase_grammar` reads the shape of a phrase; this module turns the shape into
one of the three schedule kinds, or refuses. The rule throughout: accepting a wrong time
is the worst outcome, so where a phrase has two readings the answer is a question that
offers both, each in a form that can be typed back as it is:

- a bare hour (``8点``, ``at 8``) with no day is the nearest such hour *today* (``at 8``
  at 09:00 is 20:00); when both have passed, it is a question (08:00 or 20:00 tomorrow?);
- a bare hour with a day (``tomorrow at 9``, ``明天8点``) or in a recurring phrase is read
  as a morning hour from 7 to 11 (the reply says which), noon for 12, and is a question
  for 1 to 6 (``明天3点``: 03:00 or 15:00?);
- a weekday said on that very day (``monday`` on a Monday) and ``next friday`` said while
  this week's Friday is still ahead are questions; ``下周五`` is always next week's;
- a day or part of a day without a time (``tomorrow``, ``明早``) asks for the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .errors import UserError
from .models import ScheduleKind
from .phrase_grammar import Clock, Day, Phrase, Recur, read_shape
from .phrase_words import CRON_DAY, DAY_MS, normalize, tokenize
from .schedule import local_to_ms, ms_to_local

PHRASE_EXAMPLES = (
    "tomorrow 8am, 8:30 pm, in 10 minutes, next monday 9:00, Dec 24 18:00, "
    "every weekday at 9, every 2 hours; 明天早上8点, 下午3点半, 十分钟后, 下周一上午9点, "
    "12月24日晚上6点, 每周五下午5点, 每隔两小时"
)


_TIME_GOES_ON = {"before", "after", "ago", "earlier", "past", "前", "之前", "以前", "左右"}
"""Words after a phrase that change what it means: the whole is then no time we read."""


class AmbiguousTime(UserError):
    """A phrase with two readings: the message asks which, with both forms to type."""


@dataclass(frozen=True, slots=True)
class Reading:
    """A phrase's meaning: one instant, an interval, or a cron expression (job's zone)."""

    kind: ScheduleKind
    at_ms: int | None = None
    every_ms: int | None = None
    expr: str | None = None


def read_duration(text: str) -> int | None:
    """``2 hours``, ``两小时``, ``every 30 minutes``, ``每隔两小时`` -> milliseconds; None
    for anything else (an interval field takes these)."""
    tokens = tokenize(normalize(text))
    shape = read_shape(tokens)
    if shape.used < len(tokens) or shape.day or shape.clock or shape.part:
        return None
    if shape.recur is not None:
        return shape.recur.every_ms
    return shape.relative_ms


def stated_choice(text: str, chosen_hour: int) -> str | None:
    """How a bare hour (``tomorrow at 9``, ``at 8``, ``每天8点``) was read, said back with
    the other reading's form: ``9 read as 09:00; for 21:00 write 9pm``. None when the
    phrase said which (am/pm, 早上/晚上, 24-hour) or is no phrase."""
    tokens = tokenize(normalize(text))
    shape = read_shape(tokens)
    clock = shape.clock
    if shape.used < len(tokens) or clock is None or not clock.bare or shape.part:
        return None
    hour, minute = clock.hour % 12, clock.minute
    other = hour + 12 if chosen_hour == hour else hour
    if chosen_hour not in (hour, hour + 12):
        return None
    chinese = not text.isascii()
    if chinese:
        part = {0: "晚上", 12: "中午"}.get(other) or _zh_part(other)
        form = f"{part}{clock.hour}点" + (f"{minute}分" if minute else "")
    else:
        minutes = f":{minute:02d}" if minute else ""
        form = f"{clock.hour}{minutes}{'pm' if other >= 12 else 'am'}"
    return (
        f"{clock.hour} read as {chosen_hour:02d}:{minute:02d}; for {other:02d}:{minute:02d} "
        f"write {form}"
    )


def _zh_part(hour: int) -> str:
    return "凌晨" if hour < 6 else "早上" if hour < 12 else "下午" if hour < 18 else "晚上"


def split_phrase(text: str) -> tuple[str, str] | None:
    """``tomorrow 8am stand-up`` -> (``tomorrow 8am``, ``stand-up``): the longest start of
    ``text`` that reads as a time phrase, and the rest; None when it starts with none."""
    tokens = tokenize(normalize(text))
    shape = read_shape(tokens)
    if shape.empty or not shape.used:
        return None
    last = tokens[shape.used - 1]
    following = tokens[shape.used] if shape.used < len(tokens) else None
    glued = following is not None and not last.space_after
    if glued and last.text.isascii() and following.text.isascii():
        return None  # "8amx": the phrase does not end at a word border
    if following is not None and following.text in _TIME_GOES_ON:
        return None  # "10 minutes before the meeting": the time is not "10 minutes"
    return text[: last.end].strip(), text[last.end :].strip()


def read_phrase(text: str, tz: str, now_ms: int) -> Reading | None:
    """The meaning of ``text`` in zone ``tz`` at ``now_ms``; None when it is no time
    phrase at all; a UserError (an :class:`AmbiguousTime` for two readings) when it is
    one that cannot be taken as it stands."""
    tokens = tokenize(normalize(text))
    shape = read_shape(tokens)
    if shape.empty:
        return None
    if shape.used < len(tokens):
        rest = text[tokens[shape.used - 1].end :].strip() if shape.used else text
        raise UserError(
            f"cannot read {rest[:40]!r} in the time {text[:60]!r}; examples: {PHRASE_EXAMPLES}"
        )
    if shape.recur is not None:
        return _recurring(shape, shape.recur, text)
    return Reading(ScheduleKind.AT, at_ms=_instant(shape, text, tz, now_ms))


# ----- one-shots ----------------------------------------------------------------------------


def _instant(shape: Phrase, text: str, tz: str, now_ms: int) -> int:
    today = ms_to_local(now_ms, tz).date()
    if shape.relative_ms and not (shape.day or shape.clock or shape.part):
        return now_ms + shape.relative_ms
    try:
        day = _day_of(shape, text, today, _passed_today(shape, text, tz, now_ms, today))
    except _TwoDays as two:
        raise _which_day(two, shape, text) from None
    if shape.clock is None:
        when = "at what time" if day or shape.part else "when"
        raise UserError(f"{text[:60]!r}: {when}? e.g. {_example(text)}")
    clock = shape.clock
    if clock.special == "midnight" and day == today:
        day = None  # tonight at midnight: the coming one
    if clock.special == "midnight" and day is not None:
        raise AmbiguousTime(
            f"{text[:60]!r}: midnight at the start or at the end of {_day_words(day)}? type "
            f'"{day:%Y-%m-%d} 00:00" or "{day + timedelta(days=1):%Y-%m-%d} 00:00"'
        )
    if clock.bare and not shape.part and day in (None, today):
        return _nearest_bare_hour(clock, text, tz, now_ms, today)
    try:
        minutes = _minutes_of_day(clock, shape.part, text)
    except _TwoHours as two:
        forms = [f"{day:%Y-%m-%d} {m // 60:02d}:{m % 60:02d}" for m in (two.morning, two.afternoon)]
        raise AmbiguousTime(_two_hours_question(text, two, *forms)) from None
    if day is None:
        return next_wall_time(minutes, clock.second, tz, now_ms)
    wall = datetime.combine(day, datetime.min.time()) + timedelta(
        minutes=minutes, seconds=clock.second
    )
    return local_to_ms(wall, tz)


def _example(text: str) -> str:
    chinese = not text.isascii()
    return "明天早上8点 or 今晚8点" if chinese else "tomorrow 8am or tonight at 8:30"


def _passed_today(shape: Phrase, text: str, tz: str, now_ms: int, today: date) -> bool:
    """Whether the phrase's time of day is already over today."""
    if shape.clock is None:
        return False
    try:
        minutes = _minutes_of_day(shape.clock, shape.part, text)
    except (UserError, _TwoHours):
        return False
    wall = datetime.combine(today, datetime.min.time()) + timedelta(minutes=minutes)
    return local_to_ms(wall, tz) <= now_ms


def _day_of(shape: Phrase, text: str, today: date, past_today: bool = False) -> date | None:
    if shape.relative_ms:
        if shape.day or shape.relative_ms % DAY_MS:
            raise UserError(
                f"{text[:60]!r} gives a delay and a time of day; give one, "
                "e.g. 'in 2 hours' or 'in 3 days at 9am'"
            )
        return today + timedelta(days=shape.relative_ms // DAY_MS)
    return _resolve_day(shape.day, text, today, past_today) if shape.day else None


def _resolve_day(day: Day, text: str, today: date, past_today: bool = False) -> date:
    if day.kind == "offset":
        return today + timedelta(days=day.offset)
    if day.kind == "weekday":
        return _weekday_date(day, today, past_today)
    if day.kind == "monthday":
        return _month_day_date(day.day, text, today)
    year = day.year or today.year
    if day.year is None and (day.month, day.day) < (today.month, today.day):
        year += 1
    try:
        return date(year, day.month, day.day)
    except ValueError:
        raise UserError(
            f"there is no such date ({year}-{day.month:02d}-{day.day:02d}) in {text[:60]!r}"
        ) from None


class _TwoDays(Exception):
    """A weekday with two readings; :func:`_instant` turns it into the question."""

    def __init__(self, first: date, second: date, question: str) -> None:
        super().__init__(question)
        self.first, self.second, self.question = first, second, question


def _day_words(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _weekday_date(day: Day, today: date, past_today: bool = False) -> date:
    """The date a weekday names; ``past_today``: its time has passed today, so ``monday
    9am`` said on a Monday at noon can only be next week's."""
    monday = today - timedelta(days=today.weekday())
    if day.which == "this":
        return monday + timedelta(days=day.weekday)
    if day.which == "next-week":
        return monday + timedelta(days=7 + day.weekday)
    ahead = (day.weekday - today.weekday()) % 7
    if day.which == "bare" and ahead == 0 and not past_today:
        later = today + timedelta(days=7)
        question = f"today ({_day_words(today)}) or next week ({_day_words(later)})?"
        raise _TwoDays(today, later, question)
    if day.which == "next" and day.weekday > today.weekday():
        first, second = today + timedelta(days=ahead), today + timedelta(days=ahead + 7)
        question = f"this week's {_day_words(first)} or next week's {_day_words(second)}?"
        raise _TwoDays(first, second, question)
    return today + timedelta(days=ahead or 7)


def _which_day(two: _TwoDays, shape: Phrase, text: str) -> AmbiguousTime:
    """The question for a weekday with two readings, with both forms to type back."""
    time_of_day = ""
    if shape.clock is not None:
        try:
            minutes = _minutes_of_day(shape.clock, shape.part, text)
        except UserError:
            minutes = -1
        if 0 <= minutes < 1440:
            time_of_day = f" {minutes // 60:02d}:{minutes % 60:02d}"
    tail = "" if time_of_day else " with the time"
    return AmbiguousTime(
        f'{text[:60]!r}: {two.question} type "{two.first:%Y-%m-%d}{time_of_day}" or '
        f'"{two.second:%Y-%m-%d}{time_of_day}"{tail}'
    )


def _month_day_date(day_of_month: int, text: str, today: date) -> date:
    year, month = today.year, today.month
    if day_of_month < today.day:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    try:
        return date(year, month, day_of_month)
    except ValueError:
        raise UserError(
            f"{text[:60]!r}: {year}-{month:02d} has no day {day_of_month}; give the month too"
        ) from None


def _nearest_bare_hour(clock: Clock, text: str, tz: str, now_ms: int, today: date) -> int:
    """``at 8`` / ``8点``: the earlier of 08:00 and 20:00 still ahead today, or a question."""
    midnight = datetime.combine(today, datetime.min.time())
    morning_hour = clock.hour % 12
    for hour in (morning_hour, morning_hour + 12):
        wall = midnight + timedelta(hours=hour, minutes=clock.minute)
        at_ms = local_to_ms(wall, tz)
        if at_ms > now_ms and wall.date() == today:
            return at_ms
    morning = next_wall_time(morning_hour * 60 + clock.minute, 0, tz, now_ms)
    evening = next_wall_time((morning_hour + 12) * 60 + clock.minute, 0, tz, now_ms)
    raise AmbiguousTime(f"{text[:60]!r}: {_either(morning, evening, tz)}")


def _either(first_ms: int, second_ms: int, tz: str) -> str:
    first, second = ms_to_local(first_ms, tz), ms_to_local(second_ms, tz)
    return (
        f"{first:%H:%M} or {second:%H:%M} ({_day_words(first)} / {_day_words(second)})? "
        f'type "{first:%Y-%m-%d %H:%M}" or "{second:%Y-%m-%d %H:%M}" (or add am / pm, 早上 / 晚上)'
    )


def next_wall_time(minutes: int, second: int, tz: str, now_ms: int) -> int:
    """The next instant after ``now_ms`` whose wall clock reads ``minutes`` past midnight
    (a time in a spring-forward gap maps to the end of the gap, like a cron slot)."""
    today = ms_to_local(now_ms, tz).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    candidate = today + timedelta(minutes=minutes % 1440, seconds=second)
    for _ in range(3):
        at_ms = local_to_ms(candidate, tz)
        if at_ms > now_ms:
            return at_ms
        candidate += timedelta(days=1)
    raise UserError("cannot find the next such time")  # pragma: no cover - DST skips no day


# ----- hours and parts of the day -----------------------------------------------------------

_PART_HOURS = {
    # part: (the hours as said that it takes, the hours to add)
    "am": (range(12), 0),
    "small": (range(7), 0),
    "pm": (range(1, 12), 12),
    "night": (range(6, 13), 12),
}


def _minutes_of_day(clock: Clock, part: str | None, text: str) -> int:
    """Minutes after midnight of the day said (may pass 24:00: ``晚上12点`` is the next
    midnight); a UserError for an hour that does not fit its part of the day."""
    hour = _hour(clock, part, text)
    if not 0 <= clock.minute < 60:
        raise UserError(f"{text[:60]!r}: minutes run from 00 to 59")
    return hour * 60 + clock.minute


def _hour(clock: Clock, part: str | None, text: str) -> int:
    if clock.special:
        return 12 if clock.special == "noon" else 0
    hour = clock.hour
    if clock.meridiem:
        if not 1 <= hour <= 12:
            raise UserError(f"{text[:60]!r}: with am/pm the hour is 1 to 12")
        return hour % 12 + (12 if clock.meridiem == "pm" else 0)
    if part is None:
        if clock.bare:
            return _default_bare_hour(clock, text)
        if not 0 <= hour <= 23:
            raise UserError(f"{text[:60]!r}: the hour is 0 to 23")
        return hour
    return _hour_in_part(hour, part, text)


def _hour_in_part(hour: int, part: str, text: str) -> int:
    """``晚上8点`` -> 20, ``中午1点`` -> 13, ``半夜2点`` -> 26 (02:00 the next day)."""
    if part == "noon":
        mapped = {11: 11, 12: 12, 1: 13, 2: 14, 13: 13, 14: 14}.get(hour)
    elif part == "late":
        mapped = {11: 23, 12: 24, 0: 24, 1: 25, 2: 26, 3: 27, 4: 28}.get(hour)
    else:
        hours, add = _PART_HOURS[part]
        if hour in hours:
            mapped = hour + add
        elif add == 12 and 12 <= hour <= 23:
            mapped = hour  # 下午15点, 晚上20点, 下午12点: already a 24-hour time
        else:
            mapped = None
    if mapped is None:
        raise UserError(
            f"{text[:60]!r}: {hour} o'clock does not fit that part of the day; "
            "write it as a 24-hour time, e.g. 20:00"
        )
    return mapped


class _TwoHours(Exception):
    """A bare hour from 1 to 6 on a given day; the caller words the question."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock.hour)
        self.morning = clock.hour * 60 + clock.minute
        self.afternoon = self.morning + 12 * 60


def _default_bare_hour(clock: Clock, text: str) -> int:
    """A bare hour on a given day: 7-11 in the morning, 12 noon; 1-6 asks."""
    if 7 <= clock.hour <= 12:
        return clock.hour
    raise _TwoHours(clock)


def _two_hours_question(text: str, two: _TwoHours, first_form: str, second_form: str) -> str:
    hhmm = [f"{m // 60:02d}:{m % 60:02d}" for m in (two.morning, two.afternoon)]
    return (
        f'{text[:60]!r}: {hhmm[0]} or {hhmm[1]}? type "{first_form}" or "{second_form}" '
        "(or add am / pm, 早上 / 下午)"
    )


# ----- recurring ----------------------------------------------------------------------------


def _recurring(shape: Phrase, recur: Recur, text: str) -> Reading:
    if recur.every_ms is not None:
        return Reading(ScheduleKind.EVERY, every_ms=recur.every_ms)
    clock = shape.clock
    if clock is None:
        raise UserError(
            f"{text[:60]!r}: at what time? e.g. every day at 8:30, every friday at 5pm, "
            "每天早上8点, 每周五下午5点"
        )
    dom = str(recur.month_day) if recur.month_day else "*"
    if clock.special == "midnight" and recur.weekdays:
        later = tuple(sorted((d + 1) % 7 for d in recur.weekdays))
        raise AmbiguousTime(
            f"{text[:60]!r}: midnight at the start or at the end of that day? type "
            f'"0 0 {dom} * {_cron_days(recur.weekdays)}" or "0 0 {dom} * {_cron_days(later)}"'
        )
    try:
        minutes = _minutes_of_day(clock, shape.part, text)
    except _TwoHours as two:
        days = f"{dom} * {_cron_days(recur.weekdays)}"
        forms = [f"{m % 60} {m // 60} {days}" for m in (two.morning, two.afternoon)]
        raise AmbiguousTime(_two_hours_question(text, two, *forms)) from None
    if minutes >= 1440:
        if recur.weekdays:
            later = tuple(sorted((d + 1) % 7 for d in recur.weekdays))
            raise UserError(
                f"{text[:60]!r} is 00:00 of the next day; type "
                f'"{minutes % 60} {minutes // 60 - 24} * * {_cron_days(later)}"'
            )
        if recur.month_day:
            raise UserError(f"{text[:60]!r}: write 00:00 with the day of the month it starts")
        minutes -= 1440
    if recur.month_day and not 1 <= recur.month_day <= 31:
        raise UserError(f"{text[:60]!r}: a day of the month is 1 to 31")
    expr = f"{minutes % 60} {minutes // 60} {dom} * {_cron_days(recur.weekdays)}"
    return Reading(ScheduleKind.CRON, expr=expr)


def _cron_days(weekdays: tuple[int, ...]) -> str:
    """(0, 1, 2, 3, 4) -> ``mon-fri``; (5, 6) -> ``sat,sun``; () -> ``*``."""
    if not weekdays or len(weekdays) == 7:
        return "*"
    runs: list[list[int]] = []
    for day in weekdays:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(
        f"{CRON_DAY[r[0]]}-{CRON_DAY[r[-1]]}" if len(r) > 2 else ",".join(CRON_DAY[d] for d in r)
        for r in runs
    )
