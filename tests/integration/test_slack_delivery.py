"""Reminders on Slack, through AstrBot's real slack_sdk adapter (Socket Mode) talking to a
fake Slack Web API on loopback: DMs and channels, an admin's explicit targets and send
failures."""

from __future__ import annotations

import pytest

from core.service import Actor, JobSpec
from tests.integration.cloud_checks import arrives_once, outcomes, replied
from tests.integration.fakes.slack import CHANNEL, INTERNAL_ERROR, FakeSlack
from tests.integration.harness import AstrBot

SENDS = r"/api/chat\.postMessage$"


@pytest.fixture
def slack(astrbot: AstrBot) -> FakeSlack:
    fake: FakeSlack = astrbot.peers["slack"]
    fake.clear_faults()
    return fake


def _member(user: str) -> Actor:
    """Someone in their DM with the bot (Slack's private session id is the user id)."""
    return Actor(origin=f"slack:FriendMessage:{user}", sender_id=user)


def _admin() -> Actor:
    return Actor(origin="slack:FriendMessage:UADMIN001", sender_id="UADMIN001", is_admin=True)


def test_a_reminder_made_in_a_slack_dm_arrives_once_in_that_dm(
    astrbot: AstrBot, slack: FakeSlack
) -> None:
    mark = slack.mark()
    im = astrbot.run(slack.push_dm("U00000011", "/cron add 3s hello from dm"))
    replied(astrbot, slack, im, mark)
    arrives_once(astrbot, slack, im, "hello from dm", mark)


def test_a_reminder_made_in_a_slack_channel_arrives_once_in_that_channel(
    astrbot: AstrBot, slack: FakeSlack
) -> None:
    mark = slack.mark()
    astrbot.run(slack.push_channel_message("U00000012", "/cron add 3s channel hello"))
    replied(astrbot, slack, CHANNEL, mark)
    arrives_once(astrbot, slack, CHANNEL, "channel hello", mark)


@pytest.mark.parametrize(
    ("to", "where"),
    [
        (f"channel:{CHANNEL}", CHANNEL),
        (f"slack:GroupMessage:{CHANNEL}", CHANNEL),
        ("user:U00000013", "D00000013"),
        ("slack:FriendMessage:U00000013", "D00000013"),
    ],
    ids=["channel", "channel-umo", "user", "user-umo"],
)
def test_an_admin_target_reaches_that_slack_chat(
    astrbot: AstrBot, slack: FakeSlack, to: str, where: str
) -> None:
    mark = slack.mark()
    text = f"admin sends to {to}"
    spec = JobSpec(message=text, run_at="1s", channel="slack", to=to)
    job = astrbot.run(astrbot.plugin.service.create(_admin(), spec))
    arrives_once(astrbot, slack, where, text, mark)
    assert outcomes(astrbot, job.id) == [("ok", "delivered")]


@pytest.mark.parametrize(
    "failures",
    [1, 2],
    ids=["the adapter tries again", "both adapter attempts fail, the plugin tries again"],
)
def test_a_slack_5xx_is_retried_and_delivered_once(
    astrbot: AstrBot, slack: FakeSlack, failures: int
) -> None:
    """The adapter itself posts a failed message once more (as plain text); when that
    fails too, the plugin tries again 5 s later."""
    slack.fail(SENDS, 500, INTERNAL_ERROR, times=failures)
    user = f"U0000001{failures + 3}"
    mark = slack.mark()
    job = astrbot.run(
        astrbot.plugin.service.create(_member(user), JobSpec(message="flaky", run_at="1s"))
    )
    arrives_once(astrbot, slack, slack.im_of(user), "flaky", mark)
    statuses = [c.status for c in slack.calls[mark:] if c.path.endswith("chat.postMessage")]
    assert statuses == [500] * failures + [200]
    assert outcomes(astrbot, job.id) == [("ok", "delivered")]


def test_a_slack_refusal_is_recorded_as_not_delivered(astrbot: AstrBot, slack: FakeSlack) -> None:
    slack.fail(SENDS, 200, {"ok": False, "error": "not_in_channel"}, times=10)
    mark = slack.mark()
    job = astrbot.run(
        astrbot.plugin.service.create(_member("U00000016"), JobSpec(message="nope", run_at="1s"))
    )
    astrbot.run(slack.wait_for_call(lambda c: c.path.endswith("chat.postMessage"), since=mark))
    assert outcomes(astrbot, job.id) == [("error", "not-delivered")]
    assert slack.texts(mark) == []
