"""``/cron add`` finds where a typed time ends and the reminder's text begins."""

from __future__ import annotations

import pytest

from core.cron_command import parse
from core.errors import UserError
from core.timeparse import parse_when

from .conftest import at


@pytest.mark.parametrize(
    ("arguments", "when", "text"),
    [
        ("add tomorrow 8am stand-up", "tomorrow 8am", "stand-up"),
        ("add 明天早上8点 开会", "明天早上8点", "开会"),
        ("add 明天早上8点开会", "明天早上8点", "开会"),
        ('add "tomorrow 8am" stand-up', "tomorrow 8am", "stand-up"),
        ("add 10 minutes tea", "10 minutes", "tea"),
        ("add in 5 minutes the pizza", "in 5 minutes", "the pizza"),
        ("add every weekday at 9 stand-up", "every weekday at 9", "stand-up"),
        ("add every 2 hours drink water", "every 2 hours", "drink water"),
        ("add 每隔两小时 喝水", "每隔两小时", "喝水"),
        ("add 每周五下午5点 写周报", "每周五下午5点", "写周报"),
        ("add 5pm sun is up", "5pm", "sun is up"),
        ("add 10m a day late", "10m", "a day late"),
        ("add 20m stretch", "20m", "stretch"),
        ("add 2026-01-12 18:00 dinner", "2026-01-12T18:00", "dinner"),
        ("add 7 p.m. dinner", "7 p.m.", "dinner"),
        ("add 明天早上８点 开会", "明天早上８点", "开会"),
    ],
)
def test_the_time_is_the_longest_start_that_reads_as_a_time(arguments, when, text):
    command = parse(arguments)
    assert (command.when, command.text) == (when, text)


def test_a_number_that_is_no_time_is_refused_not_read_as_an_hour():
    command = parse("add 8 people meeting")
    assert command.when == "8"
    with pytest.raises(UserError, match="cannot read the time"):
        parse_when(command.when, "Asia/Shanghai", at("2026-11-27 09:30", "Asia/Shanghai"))


def test_the_tools_options_work_in_cron_add_before_or_after_the_text():
    command = parse(
        "add tomorrow 8am --to -1001234 stand-up --channel telegram --best-effort "
        "--catch-up skip --timeout 120 --model fast --persona helper --no-deliver"
    )
    assert (command.when, command.text) == ("tomorrow 8am", "stand-up")
    assert command.fields == {
        "to": "-1001234",
        "channel": "telegram",
        "best_effort": True,
        "catch_up": "skip",
        "timeout_seconds": "120",
        "provider_id": "fast",
        "persona_id": "helper",
        "deliver": False,
    }


def test_an_unknown_option_is_refused_with_the_known_ones_not_kept_as_text():
    with pytest.raises(UserError, match=r"unknown option '--remind'.*--best-effort.*--to"):
        parse("add 20m tea --remind")


def test_cron_edit_takes_a_phrase_and_options():
    command = parse("edit abc123 every weekday at 9 --wake next-heartbeat")
    assert command.when == "every weekday at 9"
    assert command.fields == {"wake_mode": "next-heartbeat"}


@pytest.mark.parametrize("arguments", ["add 10 minutes before the meeting", "add 半小时前 开会"])
def test_a_time_that_goes_on_past_what_we_read_is_not_cut_short(arguments):
    command = parse(arguments)
    with pytest.raises(UserError):
        parse_when(command.when, "Asia/Shanghai", at("2026-11-27 09:30", "Asia/Shanghai"))
