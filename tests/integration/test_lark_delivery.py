"""Reminders on Lark (Feishu), through AstrBot's real lark_oapi adapter (long connection)
talking to a fake Lark Open Platform on loopback: private and group chats, an admin's
explicit targets and send failures."""

from __future__ import annotations

import pytest

from core.service import Actor, JobSpec
from tests.integration.cloud_checks import arrives_once, outcomes, replied
from tests.integration.fakes.lark import GROUP_CHAT, NO_PERMISSION, SYSTEM_BUSY, FakeLark
from tests.integration.harness import AstrBot

SENDS = r"^POST /open-apis/im/v1/messages$"


@pytest.fixture
def lark(astrbot: AstrBot) -> FakeLark:
    fake: FakeLark = astrbot.peers["lark"]
    fake.clear_faults()
    return fake


def _member(open_id: str) -> Actor:
    """Someone in their private chat with the bot (the session id is their open_id)."""
    return Actor(origin=f"lark:FriendMessage:{open_id}", sender_id=open_id)


def _admin() -> Actor:
    admin = "ou_admin00000000000001"
    return Actor(origin=f"lark:FriendMessage:{admin}", sender_id=admin, is_admin=True)


def test_a_reminder_made_in_a_lark_private_chat_arrives_once_in_that_chat(
    astrbot: AstrBot, lark: FakeLark
) -> None:
    mark = lark.mark()
    chat = astrbot.run(lark.push_dm("ou_user00000000000011", "/cron add 3s hello from p2p"))
    replied(astrbot, lark, chat, mark)
    arrives_once(astrbot, lark, chat, "hello from p2p", mark)


def test_a_reminder_made_in_a_lark_group_arrives_once_in_that_group(
    astrbot: AstrBot, lark: FakeLark
) -> None:
    mark = lark.mark()
    astrbot.run(lark.push_group_message("ou_user00000000000012", "/cron add 3s group hello"))
    replied(astrbot, lark, GROUP_CHAT, mark)
    arrives_once(astrbot, lark, GROUP_CHAT, "group hello", mark)


USER = "ou_user00000000000013"
USER_CHAT = "oc_p2puser00000000000013"


@pytest.mark.parametrize(
    ("to", "where"),
    [
        (USER, USER_CHAT),
        (f"lark:FriendMessage:{USER}", USER_CHAT),
        (f"lark:GroupMessage:{GROUP_CHAT}", GROUP_CHAT),
        (GROUP_CHAT, GROUP_CHAT),
    ],
    ids=["open_id", "user-umo", "group-umo", "chat_id"],
)
def test_an_admin_target_reaches_that_lark_chat(
    astrbot: AstrBot, lark: FakeLark, to: str, where: str
) -> None:
    mark = lark.mark()
    text = f"admin sends to {to}"
    spec = JobSpec(message=text, run_at="1s", channel="lark", to=to)
    job = astrbot.run(astrbot.plugin.service.create(_admin(), spec))
    arrives_once(astrbot, lark, where, text, mark)
    assert outcomes(astrbot, job.id) == [("ok", "delivered")]


def test_a_lark_5xx_is_retried_and_delivered_once(astrbot: AstrBot, lark: FakeLark) -> None:
    lark.fail(SENDS, 503, SYSTEM_BUSY, times=1)
    user = "ou_user00000000000014"
    mark = lark.mark()
    job = astrbot.run(
        astrbot.plugin.service.create(_member(user), JobSpec(message="flaky", run_at="1s"))
    )
    arrives_once(astrbot, lark, lark.p2p_chat_of(user), "flaky", mark)
    assert outcomes(astrbot, job.id) == [("ok", "delivered")]


def test_a_lark_refusal_is_recorded_as_not_delivered(astrbot: AstrBot, lark: FakeLark) -> None:
    lark.fail(SENDS, 400, NO_PERMISSION, times=10)
    mark = lark.mark()
    job = astrbot.run(
        astrbot.plugin.service.create(
            _member("ou_user00000000000015"), JobSpec(message="nope", run_at="1s")
        )
    )
    astrbot.run(lark.wait_for_call(lambda c: c.status == 400, since=mark, timeout=20))
    assert outcomes(astrbot, job.id) == [("error", "not-delivered")]
    assert lark.texts(mark) == []
