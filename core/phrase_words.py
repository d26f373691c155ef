"""The words of time phrases, English and Chinese, and the tokenizer that finds them.

Chinese is written without spaces, so the tokenizer knows the Chinese time words and
cuts them out by longest match (``明天早上8点开会`` -> 明天 早上 8 点 | 开 ...); English is
cut at spaces and at the border between digits and letters (``8am`` -> 8 am). Each token
remembers where it ends in the text, so a caller can split "the time" from "the rest".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6,
}  # fmt: skip
WEEKDAY_SHORT = {
    "mon": 0, "tue": 1, "tues": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3, "thurs": 3,
    "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip
"""Short names are read only after on / next / this / every: "5pm sun is up" is no day."""
ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
CRON_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
SMALL_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
    "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45, "ninety": 90,
}  # fmt: skip
UNIT_MS = {
    "s": 1000, "sec": 1000, "secs": 1000, "second": 1000, "seconds": 1000,
    "m": 60_000, "min": 60_000, "mins": 60_000, "minute": 60_000, "minutes": 60_000,
    "h": 3_600_000, "hr": 3_600_000, "hrs": 3_600_000, "hour": 3_600_000, "hours": 3_600_000,
    "d": 86_400_000, "day": 86_400_000, "days": 86_400_000,
    "w": 604_800_000, "week": 604_800_000, "weeks": 604_800_000,
    "秒": 1000, "秒钟": 1000, "分": 60_000, "分钟": 60_000, "小时": 3_600_000,
    "钟头": 3_600_000, "天": 86_400_000, "周": 604_800_000,
    "星期": 604_800_000, "礼拜": 604_800_000,
}  # fmt: skip
DAY_MS = 86_400_000

# Parts of the day: the hours (1-12 as said) they take, and how such an hour becomes 0-23.
# ``None`` maps an hour as said; "+12" adds twelve; "night" maps 12 to the next midnight.
PARTS = {
    "morning": "am", "早上": "am", "早晨": "am", "上午": "am", "清晨": "am", "早": "am",
    "凌晨": "small", "afternoon": "pm", "下午": "pm", "傍晚": "pm", "evening": "night",
    "night": "night", "晚上": "night", "晚": "night", "夜里": "night", "夜晚": "night",
    "中午": "noon", "半夜": "late", "深夜": "late",
}  # fmt: skip

# Chinese words, longest first so 下午 wins over 下 and 后天 over 后.
ZH_WORDS = sorted(
    [
        "今天", "今日", "明天", "明日", "后天", "大后天", "今晚", "明晚", "明早", "今早",
        "早上", "早晨", "上午", "中午", "下午", "傍晚", "晚上", "夜里", "夜晚", "凌晨", "清晨",
        "半夜", "深夜", "点钟", "点", "时", "分钟", "分", "秒钟", "秒", "小时", "钟头", "刻钟",
        "刻", "半", "个", "后", "之后", "以后", "过", "再过", "每隔", "每个", "每天", "每日",
        "每晚", "每早", "每周", "每星期", "每礼拜", "每月", "每", "天天", "工作日", "周末",
        "下周", "下星期", "下礼拜", "下个", "这周", "本周", "这个", "这星期", "本星期", "周",
        "星期", "礼拜", "月", "日", "号", "年", "天", "到", "至", "早", "晚", "整", "在", "之前", "以前", "前", "左右",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
_ZH_NUMERAL = "零〇一二两三四五六七八九十百"
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_ZH_DIGITS |= {"七": 7, "八": 8, "九": 9}

_SCAN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<iso>\d{4}[-/]\d{1,2}[-/]\d{1,2})"
    r"|(?P<clock>\d{1,2}:\d{2}(?::\d{2})?)"
    r"|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<meridiem>[ap]\.m\.?(?![a-z]))"
    r"|(?P<word>[a-z]+(?:'[a-z]+|-[a-z]+)?)"
    rf"|(?P<zhnum>[{_ZH_NUMERAL}]+)"
    r"|(?P<punct>[,@])"
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # iso, clock, num, word, zh, punct, other
    text: str
    end: int  # offset just after the token in the normalized text
    space_after: bool = False
    value: float | None = None  # for num


def normalize(text: str) -> str:
    """Full-width forms to ASCII (``８：３０`` -> ``8:30``), lower case, ``a.m.`` -> ``am``,
    keeping every character at its offset (so a phrase found in the normalized text is cut
    at the same place in the original)."""
    folded = "".join(_fold(ch) for ch in text)
    return folded.replace("。", " ").replace("，", ",")


def _fold(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch).lower()
    return folded if len(folded) == 1 else ch


def zh_number(text: str) -> int | None:
    """``十五`` -> 15, ``二十三`` -> 23, ``两`` -> 2, ``零五`` -> 5; None past 999."""
    if "百" in text:
        head, _, rest = text.partition("百")
        hundreds = _ZH_DIGITS.get(head, 1 if not head else -1)
        tail = zh_number(rest) if rest else 0
        return None if hundreds < 0 or tail is None else hundreds * 100 + tail
    if "十" in text:
        head, _, rest = text.partition("十")
        tens = _ZH_DIGITS.get(head.lstrip("零〇"), 1 if not head else -1)
        ones = _ZH_DIGITS.get(rest, -1) if rest else 0
        return None if tens < 0 or ones < 0 else tens * 10 + ones
    digits = text.lstrip("零〇") or "零"
    if len(digits) != 1:
        return None
    return _ZH_DIGITS[digits]


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` (already normalized); an unknown character is an ``other``."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        zh = next((w for w in ZH_WORDS if text.startswith(w, pos)), None)
        match = None if zh else _SCAN.match(text, pos)
        if zh:
            kind, word, end = "zh", zh, pos + len(zh)
        elif match:
            kind, word, end = match.lastgroup or "other", match.group(), match.end()
        else:
            kind, word, end = "other", text[pos], pos + 1
        pos = end
        if kind == "space":
            if tokens:
                tokens[-1] = _with_space(tokens[-1])
            continue
        tokens.append(_token(kind, word, end))
    return tokens


def _with_space(token: Token) -> Token:
    return Token(token.kind, token.text, token.end, True, token.value)


def _token(kind: str, word: str, end: int) -> Token:
    if kind == "num":
        if len(word) > 9:
            return Token("other", word, end)  # no time phrase has such a number
        return Token("num", word, end, value=float(word))
    if kind == "meridiem":
        return Token("word", word[0] + "m", end)  # a.m. -> am
    if kind == "zhnum":
        number = zh_number(word)
        if number is None:
            return Token("other", word, end)
        return Token("num", word, end, value=float(number))
    return Token(kind, word, end)
