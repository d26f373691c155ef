"""Smoke test of the harness itself: AstrBot boots with the plugin and can push to QQ."""

from __future__ import annotations

from tests.integration.harness import PLUGIN_NAME, AstrBot


def test_plugin_loaded_and_activated(astrbot: AstrBot) -> None:
    star = astrbot.star
    assert star.root_dir_name == PLUGIN_NAME
    assert star.activated
    assert astrbot.plugin is not None
    assert not astrbot.lifecycle.plugin_manager.failed_plugin_dict.get(PLUGIN_NAME)


def test_onebot_connected(astrbot: AstrBot) -> None:
    assert astrbot.onebot.connected
    platform_ids = [p.meta().id for p in astrbot.lifecycle.platform_manager.get_insts()]
    assert astrbot.platform_id in platform_ids


def test_proactive_push_reaches_onebot(astrbot: AstrBot, onebot_mark: int) -> None:
    from astrbot.api.event import MessageChain

    async def push() -> bool:
        return await astrbot.context.send_message(
            astrbot.umo(12345), MessageChain().message("ping")
        )

    assert astrbot.run(push()) is True
    action = astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.name == "send_private_msg", timeout=10, since=onebot_mark
        )
    )
    assert action.params["user_id"] == 12345
    assert action.text == "ping"


async def test_inbound_message_gets_a_reply(astrbot: AstrBot, onebot_mark: int) -> None:
    """A private message from the fake QQ reaches AstrBot's pipeline (built-in /help)."""
    user = int(astrbot.admin_id)
    await astrbot.arun(astrbot.onebot.send_private_message(user, "/help"))
    reply = await astrbot.arun(
        astrbot.onebot.wait_for_action(
            lambda a: a.name == "send_private_msg" and a.target == user,
            timeout=15,
            since=onebot_mark,
        )
    )
    assert reply.text


async def test_default_chat_provider_is_the_fake_llm(astrbot: AstrBot) -> None:
    """The configured provider talks to the scripted OpenAI-compatible fake."""
    astrbot.llm.script("scripted hello")
    before = len(astrbot.llm.requests)

    async def ask() -> str:
        provider = astrbot.context.get_using_provider()
        resp = await provider.text_chat(prompt="hi there")
        return resp.completion_text

    assert await astrbot.arun(ask()) == "scripted hello"
    request = astrbot.llm.requests[before]
    assert request.last_user_text == "hi there"
