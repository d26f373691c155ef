"""Every phrase of the corpus reads as expected: the right instant, interval or cron
expression, a question where a phrase has two readings, a refusal where it is no time."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.models import ScheduleKind
from core.phrases import AmbiguousTime
from core.timeparse import parse_when

from .timephrase_corpus import Case, load_cases

CASES = load_cases()


def test_the_corpus_has_at_least_300_phrases_in_both_languages():
    assert len(CASES) >= 300
    assert sum(case.chinese for case in CASES) >= 100
    assert sum(not case.chinese for case in CASES) >= 150


def outcome(case: Case) -> str:
    """What the reader made of the phrase, written like the corpus's expectation."""
    try:
        schedule = parse_when(case.phrase, case.tz, case.now_ms)
    except AmbiguousTime:
        return "ask"
    except UserError:
        return "refuse"
    if schedule.kind == ScheduleKind.AT:
        return f"at {schedule.at_ms}"
    if schedule.kind == ScheduleKind.EVERY:
        return f"every {schedule.every_ms}"
    return f"cron {schedule.expr}"


def expected(case: Case) -> str:
    wanted = case.expected
    if wanted.kind == "at":
        return f"at {wanted.at_ms}"
    if wanted.kind == "every":
        return f"every {wanted.every_ms}"
    if wanted.kind == "cron":
        return f"cron {wanted.expr}"
    return wanted.kind


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.line}:{c.context}:{c.phrase}")
def test_phrase_reads_as_expected(case: Case):
    assert outcome(case) == expected(case)
