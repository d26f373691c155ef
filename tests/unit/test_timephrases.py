"""Every phrase of the corpus reads as expected: the right instant, interval or cron
expression, a question where a phrase has two readings, a refusal where it is no time."""

from __future__ import annotations

import re

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


ASKED = [case for case in CASES if case.expected.kind == "ask"]


@pytest.mark.parametrize("case", ASKED, ids=lambda c: f"{c.line}:{c.context}:{c.phrase}")
def test_a_question_offers_two_forms_that_read_as_two_different_times(case: Case):
    with pytest.raises(AmbiguousTime) as asked:
        parse_when(case.phrase, case.tz, case.now_ms)
    question = str(asked.value)
    assert "\n" not in question and "?" in question
    forms = re.findall(r'"([^"]+)"', question.split("?", 1)[1])
    readings = set()
    for form in forms[:2]:
        try:
            schedule = parse_when(form, case.tz, case.now_ms)
        except UserError:
            continue  # "2026-11-27" alone: a date to complete with the time, refused as is
        readings.add(schedule.at_ms or schedule.expr)
    assert len(forms) >= 2 and len(readings) in (0, 2), question
