"""Reminders in AstrBot's WebChat: with no page open, the adapter saves a proactive message
to the conversation's history (webchat_adapter.py ``_save_proactive_message``), which the
page shows when opened. The plugin records ``delivered`` only once that row is there."""

from __future__ import annotations

import asyncio
import time

import pytest

from core.service import Actor, JobSpec
from tests.integration.harness import AstrBot


def _bot_messages(astrbot: AstrBot, conversation: str) -> list[str]:
    from astrbot.core import db_helper

    rows = astrbot.run(db_helper.get_platform_message_history("webchat", conversation, 1, 50))
    return [str(r.content) for r in rows if r.sender_id == "bot"]


def _wait_for(astrbot: AstrBot, conversation: str, text: str, timeout: float = 20) -> int:
    """How many bot messages of ``conversation`` carry ``text``, once one does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in _bot_messages(astrbot, conversation) if text in m]
        if found:
            time.sleep(1)  # a second copy would be written right after the first
            return len([m for m in _bot_messages(astrbot, conversation) if text in m])
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never reached WebChat conversation {conversation}")


def _history(astrbot: AstrBot, job_id: str) -> list[tuple[str, str]]:
    return [(r.status.value, r.delivery.value) for r in astrbot.finished_runs(job_id)]


def test_a_reminder_made_in_a_webchat_conversation_arrives_there_once(astrbot: AstrBot) -> None:
    actor = Actor(origin="webchat:FriendMessage:webchat!astrbot!ft-conv-1", sender_id="astrbot")
    job = astrbot.run(
        astrbot.plugin.service.create(actor, JobSpec(message="webchat hello", run_at="1s"))
    )
    assert _wait_for(astrbot, "ft-conv-1", "webchat hello") == 1
    assert _history(astrbot, job.id) == [("ok", "delivered")]


@pytest.mark.parametrize(
    ("to", "conversation"),
    [
        ("ft-conv-2", "ft-conv-2"),
        ("webchat:FriendMessage:webchat!astrbot!ft-conv-3", "ft-conv-3"),
    ],
)
def test_an_admins_explicit_webchat_target_arrives_in_that_conversation(
    astrbot: AstrBot, to: str, conversation: str
) -> None:
    admin = Actor(origin=astrbot.umo(astrbot.admin_id), sender_id=astrbot.admin_id, is_admin=True)
    text = f"webchat explicit {conversation}"
    job = astrbot.run(
        astrbot.plugin.service.create(
            admin, JobSpec(message=text, run_at="1s", channel="webchat", to=to)
        )
    )
    assert _wait_for(astrbot, conversation, text) == 1
    assert _history(astrbot, job.id) == [("ok", "delivered")]


def test_a_reminder_streamed_to_an_open_webchat_page_is_recorded_unknown(astrbot: AstrBot) -> None:
    """With a page streaming the conversation, the adapter hands the message to that page
    (webchat_adapter.py ``send_by_session`` -> ``WebChatMessageEvent._send``) and nothing
    tells the plugin whether it was shown: ``unknown``, not ``delivered``."""
    from astrbot.core.platform.sources.webchat.webchat_queue_mgr import webchat_queue_mgr

    async def open_page():
        return webchat_queue_mgr.get_or_create_back_queue("ft-page-1", "ft-conv-4")

    page = astrbot.run(open_page())
    try:
        actor = Actor(origin="webchat:FriendMessage:webchat!astrbot!ft-conv-4", sender_id="astrbot")
        job = astrbot.run(
            astrbot.plugin.service.create(actor, JobSpec(message="webchat streamed", run_at="1s"))
        )
        item = astrbot.run(asyncio.wait_for(page.get(), 15), 20)
        assert item["data"] == "webchat streamed"
        assert _history(astrbot, job.id) == [("ok", "unknown")]
    finally:
        astrbot.loop.call_soon_threadsafe(webchat_queue_mgr.remove_back_queue, "ft-page-1")
