"""/cron on Telegram: private chats, groups and forum topics, through AstrBot's real
telegram adapter talking to a fake Bot API on loopback."""

from __future__ import annotations

import re
import time

import pytest

from core.service import Actor, JobSpec
from tests.integration.harness import AstrBot

FORUM, THREAD = -1001234567890, 123


def _reply(astrbot: AstrBot, chat_id: int, since: int, starts: str = "") -> str:
    call = astrbot.run(
        astrbot.telegram.wait_for_call(
            lambda c: c.is_send and c.chat_id == chat_id and c.plain_text.startswith(starts),
            timeout=15,
            since=since,
        )
    )
    return call.plain_text


def test_cron_add_in_a_private_telegram_chat(astrbot: AstrBot) -> None:
    tg = astrbot.telegram
    mark = tg.mark()
    astrbot.run(tg.push_private_message(7301, "/cron add 3s hello from tg"))
    reply = _reply(astrbot, 7301, mark, starts="Created")
    assert re.search(r"id: [a-z0-9]{8}", reply), reply
    created = time.monotonic()
    call = astrbot.run(tg.wait_for_send(chat_id=7301, text="hello from tg", timeout=15, since=mark))
    assert 2.0 <= call.monotonic - created <= 5.0
    time.sleep(1)
    assert [c.plain_text for c in tg.sent(mark)].count("hello from tg") == 1


def test_cron_add_in_a_telegram_group(astrbot: AstrBot) -> None:
    tg = astrbot.telegram
    mark = tg.mark()
    astrbot.run(tg.push_group_message(-1009990001, 7302, "/cron add 2s group hello"))
    assert "id: " in _reply(astrbot, -1009990001, mark, starts="Created")
    call = astrbot.run(
        tg.wait_for_send(chat_id=-1009990001, text="group hello", timeout=15, since=mark)
    )
    assert "message_thread_id" not in call.params


def test_cron_add_inside_a_forum_topic_answers_in_that_topic(astrbot: AstrBot) -> None:
    tg = astrbot.telegram
    mark = tg.mark()
    astrbot.run(
        tg.push_group_message(
            FORUM, 7303, "/cron add 2s topic hello", message_thread_id=THREAD, is_forum=True
        )
    )
    call = astrbot.run(tg.wait_for_send(chat_id=FORUM, text="topic hello", timeout=15, since=mark))
    assert call.message_thread_id == THREAD


def test_admin_targets_a_forum_topic_in_openclaw_form(astrbot: AstrBot) -> None:
    """``to=-100…:topic:123`` (and ``-100…:123``) on channel telegram reach the topic."""
    admin = Actor(
        origin=astrbot.tg_umo(int(astrbot.tg_admin_id)),
        sender_id=astrbot.tg_admin_id,
        is_admin=True,
    )
    tg = astrbot.telegram
    for to, text in (
        (f"{FORUM}:topic:{THREAD}", "topic form one"),
        (f"{FORUM}:{THREAD}", "form two"),
    ):
        mark = tg.mark()
        job = astrbot.run(
            astrbot.plugin.service.create(
                admin, JobSpec(message=text, run_at="1s", channel="telegram", to=to)
            )
        )
        assert job.target.session == f"tg:GroupMessage:{FORUM}#{THREAD}"
        call = astrbot.run(tg.wait_for_send(chat_id=FORUM, text=text, timeout=15, since=mark))
        assert call.message_thread_id == THREAD


def test_a_member_can_not_deliver_to_another_chat(astrbot: AstrBot) -> None:
    member = Actor(origin=astrbot.tg_umo(7304), sender_id="7304")
    # the plugin's own PermissionDenied (AstrBot imported it under its package name)
    with pytest.raises(Exception, match="only admins may deliver") as caught:
        astrbot.run(
            astrbot.plugin.service.create(
                member, JobSpec(message="x", run_at="1h", channel="telegram", to=str(FORUM))
            )
        )
    assert type(caught.value).__name__ == "PermissionDenied"
