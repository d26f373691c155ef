"""Reminders on Discord, through AstrBot's real py-cord adapter talking to a fake Discord
(REST and gateway) on loopback: DMs and guild channels, an admin's explicit targets,
send failures, and a send while the bot is not logged in yet."""

from __future__ import annotations

import time

import pytest

from core.service import Actor, JobSpec
from tests.integration.cloud_checks import arrives_once, outcomes, replied
from tests.integration.fakes.discord import CHANNEL_ID, MISSING_ACCESS, FakeDiscord
from tests.integration.harness import AstrBot

USER = "930000000000000001"
SENDS = r"^POST /channels/\d+/messages$"


@pytest.fixture
def discord(astrbot: AstrBot) -> FakeDiscord:
    fake: FakeDiscord = astrbot.peers["discord"]
    fake.clear_faults()
    return fake


def _admin(astrbot: AstrBot, discord: FakeDiscord) -> Actor:
    dm = discord.dm_channel_of(USER)
    return Actor(origin=f"discord:FriendMessage:{dm}", sender_id=USER, is_admin=True)


def test_a_reminder_made_in_a_discord_dm_arrives_once_in_that_dm(
    astrbot: AstrBot, discord: FakeDiscord
) -> None:
    mark = discord.mark()
    dm = astrbot.run(discord.push_dm("930000000000000011", "/cron add 3s hello from dm"))
    replied(astrbot, discord, dm, mark)
    arrives_once(astrbot, discord, dm, "hello from dm", mark)


def test_a_reminder_made_in_a_guild_channel_arrives_once_in_that_channel(
    astrbot: AstrBot, discord: FakeDiscord
) -> None:
    mark = discord.mark()
    astrbot.run(discord.push_channel_message("930000000000000012", "/cron add 3s channel hello"))
    replied(astrbot, discord, CHANNEL_ID, mark)
    arrives_once(astrbot, discord, CHANNEL_ID, "channel hello", mark)


@pytest.mark.parametrize(
    "to", [f"channel:{CHANNEL_ID}", f"discord:GroupMessage:{CHANNEL_ID}"], ids=["channel", "umo"]
)
def test_an_admin_target_naming_a_discord_channel_reaches_it(
    astrbot: AstrBot, discord: FakeDiscord, to: str
) -> None:
    mark = discord.mark()
    text = f"to the channel via {to.split(':')[0]}"
    spec = JobSpec(message=text, run_at="1s", channel="discord", to=to)
    astrbot.run(astrbot.plugin.service.create(_admin(astrbot, discord), spec))
    arrives_once(astrbot, discord, CHANNEL_ID, text, mark)


def test_an_admin_target_naming_a_discord_user_reaches_their_dm(
    astrbot: AstrBot, discord: FakeDiscord
) -> None:
    user = "930000000000000013"
    mark = discord.mark()
    spec = JobSpec(message="to the user", run_at="1s", channel="discord", to=f"user:{user}")
    job = astrbot.run(astrbot.plugin.service.create(_admin(astrbot, discord), spec))
    arrives_once(astrbot, discord, discord.dm_channel_of(user), "to the user", mark)
    assert outcomes(astrbot, job.id) == [("ok", "delivered")]


def test_an_admin_target_naming_a_dm_session_reaches_that_dm(
    astrbot: AstrBot, discord: FakeDiscord
) -> None:
    dm = discord.dm_channel_of("930000000000000014")
    mark = discord.mark()
    to = f"discord:FriendMessage:{dm}"
    spec = JobSpec(message="to the dm session", run_at="1s", to=to)
    astrbot.run(astrbot.plugin.service.create(_admin(astrbot, discord), spec))
    arrives_once(astrbot, discord, dm, "to the dm session", mark)


def test_a_discord_5xx_is_retried_and_delivered_once(
    astrbot: AstrBot, discord: FakeDiscord
) -> None:
    discord.fail(SENDS, 502, {"message": "Bad Gateway", "code": 0}, times=1)
    dm = discord.dm_channel_of("930000000000000015")
    actor = Actor(origin=f"discord:FriendMessage:{dm}", sender_id="930000000000000015")
    mark = discord.mark()
    job = astrbot.run(astrbot.plugin.service.create(actor, JobSpec(message="flaky", run_at="1s")))
    arrives_once(astrbot, discord, dm, "flaky", mark)
    assert [c.status for c in discord.calls[mark:] if c.chat == dm] == [502, 200]
    assert outcomes(astrbot, job.id) == [("ok", "delivered")]


def test_a_discord_403_is_recorded_as_not_delivered(astrbot: AstrBot, discord: FakeDiscord) -> None:
    discord.fail(SENDS, 403, MISSING_ACCESS, times=10)
    dm = discord.dm_channel_of("930000000000000016")
    actor = Actor(origin=f"discord:FriendMessage:{dm}", sender_id="930000000000000016")
    mark = discord.mark()
    job = astrbot.run(
        astrbot.plugin.service.create(actor, JobSpec(message="forbidden", run_at="1s"))
    )
    astrbot.run(discord.wait_for_call(lambda c: c.status == 403, since=mark, timeout=20))
    assert outcomes(astrbot, job.id) == [("error", "not-delivered")]


def _reconnect_held(astrbot: AstrBot, discord: FakeDiscord) -> None:
    """Restart the discord adapter with its login held back: it is loaded, not logged in."""
    manager = astrbot.lifecycle.platform_manager
    config = next(p for p in manager.platforms_config if p["id"] == discord.platform_id)
    attempts = discord.login_attempts
    discord.hold_login()
    astrbot.run(manager.reload(config), timeout=60)
    deadline = time.monotonic() + 20
    while discord.login_attempts == attempts and time.monotonic() < deadline:
        time.sleep(0.1)
    assert discord.login_attempts > attempts, "the reloaded adapter never tried to log in"


def test_a_discord_reminder_due_before_login_is_sent_once_after_login(
    astrbot: AstrBot, discord: FakeDiscord
) -> None:
    dm = discord.dm_channel_of("930000000000000017")
    actor = Actor(origin=f"discord:FriendMessage:{dm}", sender_id="930000000000000017")
    try:
        _reconnect_held(astrbot, discord)
        mark = discord.mark()
        job = astrbot.run(
            astrbot.plugin.service.create(actor, JobSpec(message="after ready", run_at="1s"))
        )
        time.sleep(3)  # due and fired while the bot is not logged in
        assert discord.texts(mark, dm) == []
    finally:
        discord.release_login()
    arrives_once(astrbot, discord, dm, "after ready", mark)
    assert outcomes(astrbot, job.id) == [("ok", "delivered")]
