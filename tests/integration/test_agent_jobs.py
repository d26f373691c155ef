"""Agent jobs end to end: created with /cron, fired by the scheduler, answered by the
scripted model, delivered to the chat and recorded in the owner's conversation."""

from __future__ import annotations

import re
import time

from tests.integration.harness import AstrBot
from tests.integration.test_agent_modes import history_of

USER = 7401


def _add(astrbot: AstrBot, text: str) -> str:
    mark = astrbot.onebot.mark()
    astrbot.run(astrbot.onebot.send_private_message(USER, text))
    reply = astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.target == USER and a.text.startswith(("Created", "Error")),
            timeout=15,
            since=mark,
        )
    )
    match = re.search(r"id: ([a-z0-9]{8})", reply.text)
    assert match, reply.text
    return match[1]


def test_isolated_job_delivers_its_answer_and_posts_a_summary(astrbot: AstrBot) -> None:
    astrbot.llm.script("build is green")
    mark = astrbot.onebot.mark()
    before = len(astrbot.llm.requests)
    job_id = _add(astrbot, "/cron add 2s --agent --name ci check the build and tell me")
    arrived = astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.target == USER and a.text == "build is green", timeout=20, since=mark
        )
    )
    assert arrived.name == "send_private_msg"
    prompt = astrbot.llm.requests[before].last_user_text
    assert prompt.startswith(f"[cron:{job_id} ci]") and "check the build" in prompt
    time.sleep(0.5)
    assert [a.text for a in astrbot.onebot.sent(mark)].count("build is green") == 1
    history = astrbot.run(history_of(astrbot, astrbot.umo(USER)))
    assert any(
        m["role"] == "assistant"
        and "Cron" in str(m["content"])
        and "build is green" in str(m["content"])
        for m in history
    ), history


def test_main_job_reply_is_delivered_and_kept_in_the_conversation(astrbot: AstrBot) -> None:
    astrbot.llm.script("Time to water the plants!")
    mark = astrbot.onebot.mark()
    _add(astrbot, "/cron add 2s --main water the plants")
    astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.target == USER and a.text == "Time to water the plants!",
            timeout=20,
            since=mark,
        )
    )
    time.sleep(0.5)
    history = astrbot.run(history_of(astrbot, astrbot.umo(USER)))
    assert history[-1] == {"role": "assistant", "content": "Time to water the plants!"}
    assert "water the plants" in str(history[-2]["content"])


def test_cron_wake_hands_an_event_to_the_main_session_now(astrbot: AstrBot) -> None:
    astrbot.llm.script("Noted: the deploy finished.")
    before = len(astrbot.llm.requests)
    mark = astrbot.onebot.mark()
    astrbot.run(astrbot.onebot.send_private_message(USER, "/cron wake the deploy finished"))
    astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.target == USER and a.text == "Noted: the deploy finished.",
            timeout=20,
            since=mark,
        )
    )
    time.sleep(1)
    assert len(astrbot.llm.requests) == before + 1  # the command is not also a chat turn
