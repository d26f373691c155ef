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
