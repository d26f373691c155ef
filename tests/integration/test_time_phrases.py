"""Times typed as people type them, English and Chinese, through /cron (a QQ user over
OneBot v11) and through the tools (a scripted model passing the user's words on)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.integration.fakes.llm import ToolCall
from tests.integration.harness import AstrBot
from tests.integration.test_cron_commands import _job_id, _say
from tests.integration.test_llm_tools import _chat
from tests.integration.test_web_api import Dashboard, web  # noqa: F401 (the fixture)

USER_A, USER_B = 7301, 7302
ZONE = ZoneInfo("Asia/Shanghai")  # the zone the harness configures


def _tomorrow_words() -> str:
    """``tomorrow, Sun 29 Nov, 08:00 CST`` for tomorrow in the bot's zone."""
    day = datetime.now(ZONE).date() + timedelta(days=1)
    return f"tomorrow, {day:%a} {day.day} {day:%b}, 08:00 CST"


def test_cron_add_with_an_unquoted_chinese_phrase_states_the_time_in_words(
    astrbot: AstrBot,
) -> None:
    reply = _say(astrbot, USER_A, "/cron add 明天早上8点 开会", since=astrbot.onebot.mark())
    assert "id: " in reply and f"when: {_tomorrow_words()}" in reply, reply
    shown = _say(astrbot, USER_A, f"/cron show {_job_id(reply)}", since=astrbot.onebot.mark())
    assert "message: 开会" in shown, shown


def test_cron_add_with_an_english_phrase_fires_with_the_rest_as_its_text(
    astrbot: AstrBot,
) -> None:
    mark = astrbot.onebot.mark()
    reply = _say(astrbot, USER_A, "/cron add in 3 seconds tea is ready", since=mark)
    assert "id: " in reply and "when: today" in reply, reply
    arrived = astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.text == "tea is ready" and a.target == USER_A, timeout=20, since=mark
        )
    )
    assert arrived.name == "send_private_msg"


def test_a_recurring_phrase_becomes_cron_and_the_reply_previews_three_runs(
    astrbot: AstrBot,
) -> None:
    reply = _say(
        astrbot, USER_A, "/cron add every weekday at 9am stand-up", since=astrbot.onebot.mark()
    )
    assert "repeats: cron 0 9 * * mon-fri (Asia/Shanghai)" in reply, reply
    runs = re.search(r"next runs: (.*)", reply)
    assert runs and len(runs[1].split("; ")) == 3 and runs[1].count("09:00 CST") == 3, reply


def test_what_is_not_a_time_or_not_an_option_is_refused_and_nothing_is_created(
    astrbot: AstrBot,
) -> None:
    before = _say(astrbot, USER_B, "/cron list", since=astrbot.onebot.mark())
    refused = _say(astrbot, USER_B, "/cron add 8 people meeting", since=astrbot.onebot.mark())
    assert refused.startswith("Error: cannot read the time '8'"), refused
    unknown = _say(astrbot, USER_B, "/cron add 20m tea --remind", since=astrbot.onebot.mark())
    assert "unknown option '--remind'" in unknown and "--best-effort" in unknown, unknown
    ambiguous = _say(astrbot, USER_B, "/cron add 明天3点 开会", since=astrbot.onebot.mark())
    assert "03:00 or 15:00?" in ambiguous, ambiguous
    assert _say(astrbot, USER_B, "/cron list", since=astrbot.onebot.mark()) == before


def test_the_model_passes_raw_phrases_and_names_tasks_by_their_text(astrbot: AstrBot) -> None:
    created = _chat(
        astrbot,
        USER_A,
        "明天早上8点提醒我交报告",
        ToolCall("future_task_create", {"message": "该交报告了", "run_at": "明天早上8点"}),
    )
    assert f"when: {_tomorrow_words()}" in created, created
    weekly = _chat(
        astrbot,
        USER_A,
        "每周五下午5点提醒我写周报",
        ToolCall("future_task_create", {"message": "写周报", "cron": "每周五下午5点"}),
    )
    assert "cron 0 17 * * fri (Asia/Shanghai)" in weekly and "next runs:" in weekly, weekly
    relative = _chat(
        astrbot,
        USER_A,
        "in 10 minutes remind me to stretch",
        ToolCall("future_task_create", {"message": "Time to stretch", "run_at": "in 10 minutes"}),
    )
    assert "id: " in relative, relative
    cancelled = _chat(
        astrbot, USER_A, "取消交报告的提醒", ToolCall("future_task_cancel", {"job_id": "交报告"})
    )
    assert cancelled.startswith(f"Deleted task {_job_id(created)}"), cancelled


def test_the_model_gets_a_question_for_two_readings_and_a_pointer_when_nothing_matches(
    astrbot: AstrBot,
) -> None:
    ambiguous = _chat(
        astrbot,
        USER_B,
        "remind me tomorrow at 3",
        ToolCall("future_task_create", {"message": "call", "run_at": "tomorrow at 3"}),
    )
    assert ambiguous.startswith("Error:") and "03:00 or 15:00?" in ambiguous, ambiguous
    missing = _chat(
        astrbot,
        USER_B,
        "cancel the dentist one",
        ToolCall("future_task_cancel", {"job_id": "dentist"}),
    )
    assert missing.startswith("Error:") and "future_task_list" in missing, missing


def test_the_tools_time_note_gives_the_weekday(astrbot: AstrBot) -> None:
    before = len(astrbot.llm.requests)
    _chat(astrbot, USER_B, "what do I have?", ToolCall("future_task_list", {}))
    create = astrbot.llm.requests[before].tool("future_task_create")
    description = create.get("function", create)["description"]
    weekday = datetime.now(ZONE).strftime("%A")
    assert f"current time is {weekday}, " in description, description


def test_the_web_api_takes_phrases_and_asks_about_two_readings(web: Dashboard) -> None:  # noqa: F811
    session = "onebot:FriendMessage:7303"
    reply = web.post("/jobs", {"session": session, "message": "周报", "when": "每周五下午5点"})
    assert reply.status == 201, reply
    assert "0 17 * * fri" in reply.body["job"]["schedule"]["words"], reply.body
    assert "next runs:" in reply.body["reply"], reply.body
    asked = web.post("/jobs", {"session": session, "message": "x", "run_at": "明天3点"})
    assert asked.status == 400 and "03:00 or 15:00?" in asked.body["error"], asked


def test_a_reference_that_matches_several_tasks_lists_them_and_changes_nothing(
    astrbot: AstrBot,
) -> None:
    first = _chat(
        astrbot,
        USER_B,
        "remind me to water the plants tonight",
        ToolCall("future_task_create", {"message": "Water the plants", "run_at": "in 2 hours"}),
    )
    second = _chat(
        astrbot,
        USER_B,
        "and to water the garden",
        ToolCall("future_task_create", {"message": "Water the garden", "run_at": "in 3 hours"}),
    )
    several = _chat(
        astrbot, USER_B, "cancel water", ToolCall("future_task_cancel", {"job_id": "water"})
    )
    assert several.startswith("Error: 2 tasks match 'water'"), several
    assert _job_id(first) in several and _job_id(second) in several, several
    edited = _chat(
        astrbot,
        USER_B,
        "move the garden one to tomorrow 7pm",
        ToolCall("future_task_edit", {"job_id": "garden", "run_at": "tomorrow 7pm"}),
    )
    assert edited.startswith(f"Updated task {_job_id(second)}") and "19:00" in edited, edited
