"""The fake Telegram Bot API against AstrBot's real ``telegram`` adapter (python-telegram-bot).

These tests exercise only AstrBot and the harness, not the plugin's features.
"""

from __future__ import annotations

from typing import Any

from tests.integration.fakes.telegram import FakeTelegram, unescape_markdown_v2
from tests.integration.harness import TG_TOKEN, AstrBot

FORUM_CHAT = -1001234567890
FORUM_THREAD = 123


def _push(astrbot: AstrBot, umo: str, text: str) -> bool:
    from astrbot.api.event import MessageChain

    async def push() -> bool:
        return await astrbot.context.send_message(umo, MessageChain().message(text))

    return astrbot.run(push())


def test_adapter_started_against_the_fake(astrbot: AstrBot) -> None:
    tg = astrbot.telegram
    methods = [c.method for c in tg.calls]
    assert "getMe" in methods and "deleteWebhook" in methods and "getUpdates" in methods
    assert astrbot.telegram_adapter.meta().id == astrbot.telegram_platform_id == "tg"
    assert astrbot.telegram_adapter.client.username == tg.username
    # Commands were registered (built-in ones at least) and nothing unexpected was called.
    assert "setMyCommands" in methods and tg.commands
    assert tg.unknown_calls == []


def test_proactive_send_to_private_chat(astrbot: AstrBot, tg_mark: int) -> None:
    assert astrbot.tg_umo(4242) == "tg:FriendMessage:4242"
    assert _push(astrbot, astrbot.tg_umo(4242), "hello tg") is True
    call = astrbot.run(astrbot.telegram.wait_for_send(chat_id=4242, timeout=10, since=tg_mark))
    assert call.method == "sendMessage"
    assert call.chat_id == 4242
    assert call.text == "hello tg"
    assert call.params.get("parse_mode") == "MarkdownV2"
    assert "message_thread_id" not in call.params
    # A chat action precedes the message.
    actions = astrbot.telegram.calls_to("sendChatAction", since=tg_mark)
    assert actions and actions[0].params["action"] == "typing"


def test_texts_arrive_markdown_v2_escaped(astrbot: AstrBot, tg_mark: int) -> None:
    text = "Reminder: v1.2 (beta) is due! #ops a-b"
    assert _push(astrbot, astrbot.tg_umo(4243), text) is True
    call = astrbot.run(astrbot.telegram.wait_for_send(chat_id=4243, timeout=10, since=tg_mark))
    assert call.text == r"Reminder: v1\.2 \(beta\) is due\! \#ops a\-b"
    assert call.plain_text == text
    assert unescape_markdown_v2(call.text) == text


def test_proactive_send_to_group(astrbot: AstrBot, tg_mark: int) -> None:
    umo = astrbot.tg_umo(-1009876543210, group=True)
    assert umo == "tg:GroupMessage:-1009876543210"
    assert _push(astrbot, umo, "hello group") is True
    call = astrbot.run(
        astrbot.telegram.wait_for_send(chat_id=-1009876543210, timeout=10, since=tg_mark)
    )
    assert call.plain_text == "hello group"
    assert "message_thread_id" not in call.params


def test_proactive_send_to_forum_topic(astrbot: AstrBot, tg_mark: int) -> None:
    """AstrBot's session id for a topic is ``<chat_id>#<thread_id>``."""
    umo = astrbot.tg_umo(FORUM_CHAT, thread_id=FORUM_THREAD)
    assert umo == f"tg:GroupMessage:{FORUM_CHAT}#{FORUM_THREAD}"
    assert _push(astrbot, umo, "hello topic") is True
    call = astrbot.run(
        astrbot.telegram.wait_for_send(chat_id=FORUM_CHAT, timeout=10, since=tg_mark)
    )
    assert call.method == "sendMessage"
    assert call.plain_text == "hello topic"
    assert call.message_thread_id == FORUM_THREAD
    actions = astrbot.telegram.calls_to("sendChatAction", since=tg_mark)
    assert actions and actions[0].message_thread_id == FORUM_THREAD


def test_send_to_unknown_platform_returns_false(astrbot: AstrBot) -> None:
    assert _push(astrbot, "nosuchplatform:FriendMessage:1", "x") is False


async def test_inbound_private_command_gets_a_reply(astrbot: AstrBot, tg_mark: int) -> None:
    """A private ``/help`` pushed through getUpdates reaches AstrBot's pipeline."""
    user = 5151
    await astrbot.arun(astrbot.telegram.push_private_message(user, "/help", username="alice"))
    reply = await astrbot.arun(
        astrbot.telegram.wait_for_send(chat_id=user, timeout=15, since=tg_mark)
    )
    assert reply.method == "sendMessage"
    assert reply.plain_text


async def test_inbound_forum_topic_command_replies_in_the_topic(
    astrbot: AstrBot, tg_mark: int
) -> None:
    """In a forum topic AstrBot answers ``/help@<bot>`` inside the same topic."""
    tg = astrbot.telegram
    await astrbot.arun(
        tg.push_group_message(
            FORUM_CHAT, 5152, f"/help@{tg.username}", message_thread_id=FORUM_THREAD
        )
    )
    reply = await astrbot.arun(tg.wait_for_send(chat_id=FORUM_CHAT, timeout=15, since=tg_mark))
    assert reply.message_thread_id == FORUM_THREAD
    assert reply.plain_text


async def test_inbound_group_command_needs_no_mention(astrbot: AstrBot, tg_mark: int) -> None:
    """In an ordinary supergroup a bare ``/help`` (no ``@bot``) is answered in the group."""
    chat = -1005550002
    await astrbot.arun(astrbot.telegram.push_group_message(chat, 5153, "/help"))
    reply = await astrbot.arun(
        astrbot.telegram.wait_for_send(chat_id=chat, timeout=15, since=tg_mark)
    )
    assert "message_thread_id" not in reply.params
    assert reply.plain_text


async def test_inbound_message_event_origin(astrbot: AstrBot, tg_mark: int) -> None:
    """The events the adapter builds carry the session ids ``tg_umo`` produces."""
    from astrbot.core.platform.sources.telegram.tg_adapter import TelegramPlatformAdapter

    adapter = astrbot.telegram_adapter
    assert isinstance(adapter, TelegramPlatformAdapter)
    seen: list[Any] = []
    original = adapter.handle_msg

    async def spy(message: Any) -> None:
        seen.append(message)

    adapter.handle_msg = spy  # instance attribute shadows the method; restored below
    try:
        tg = astrbot.telegram
        await astrbot.arun(tg.push_private_message(6001, "hi there"))
        await astrbot.arun(tg.push_group_message(-1005550001, 6002, "hi group"))
        await astrbot.arun(
            tg.push_group_message(FORUM_CHAT, 6003, "hi topic", message_thread_id=FORUM_THREAD)
        )

        async def wait_three() -> None:
            import asyncio

            while len(seen) < 3:
                await asyncio.sleep(0.02)

        await astrbot.arun(wait_three(), timeout=10)
    finally:
        del adapter.handle_msg
    assert adapter.handle_msg == original
    origins = [adapter.create_event(m).unified_msg_origin for m in seen]
    assert origins == [
        astrbot.tg_umo(6001),
        astrbot.tg_umo(-1005550001, group=True),
        astrbot.tg_umo(FORUM_CHAT, thread_id=FORUM_THREAD),
    ]


async def test_fake_get_updates_offset_and_long_poll() -> None:
    """The fake's getUpdates semantics, driven by PTB's own ``Bot`` on pytest's loop."""
    import asyncio

    from telegram import Bot

    fake = FakeTelegram()
    await fake.start()
    try:
        async with Bot(TG_TOKEN, base_url=fake.api_base_url) as bot:
            assert (await bot.get_me()).username == fake.username
            await fake.push_private_message(1, "one")
            await fake.push_private_message(1, "two")
            first = await bot.get_updates(timeout=0)
            assert [u.message.text for u in first] == ["one", "two"]
            # Unconfirmed updates are returned again; offset confirms.
            again = await bot.get_updates(offset=first[0].update_id + 1, timeout=0)
            assert [u.message.text for u in again] == ["two"]
            assert await bot.get_updates(offset=again[-1].update_id + 1, timeout=0) == ()
            # Long poll: a push while waiting ends the wait early.
            loop = asyncio.get_running_loop()
            loop.call_later(0.3, lambda: asyncio.ensure_future(fake.push_private_message(1, "/x")))
            started = loop.time()
            polled = await bot.get_updates(offset=again[-1].update_id + 1, timeout=5)
            assert loop.time() - started < 3
            assert polled[0].message.text == "/x"
            assert polled[0].message.entities[0].type == "bot_command"
            # The bot's side: a photo upload arrives as multipart.
            msg = await bot.send_photo(chat_id=7, photo=b"\x89PNG fake", caption="pic")
            assert msg.photo and msg.caption == "pic"
            call = fake.sent()[-1]
            assert call.method == "sendPhoto" and call.files["photo"].data == b"\x89PNG fake"
            assert call.chat_id == 7 and call.text == "pic"
        assert [c for c in fake.calls if not c.known] == []
    finally:
        await fake.stop()
