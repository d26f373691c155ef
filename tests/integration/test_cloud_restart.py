"""Reminders on Discord, Slack and Lark that fall due while AstrBot is down: the real
``astrbot run`` (see :mod:`tests.integration.process`) talks to the three fake clouds, is
stopped before the reminders are due and started again after; on the way back each
platform's login is held for a few seconds. Each reminder must then arrive once, and only
after its platform has logged in (SPEC §5: a send waits for its platform): after the
fake answered the adapter's first login call (``login_path``)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.fakes.cloud import CloudPeer
from tests.integration.fakes.discord import FakeDiscord
from tests.integration.fakes.lark import FakeLark
from tests.integration.fakes.slack import FakeSlack
from tests.integration.harness import REPO_ROOT
from tests.integration.process import VENV_BIN, AstrBotProcess

DUE_IN_S = 20
"""The reminders are created this long before they are due; AstrBot is stopped at once."""
LOGIN_HELD_S = 6.0
"""After the plugin's scheduler is back, the platforms may log in this much later."""

BOOT = """
import os, sys
sys.path.insert(0, os.environ["FUTURE_TASKS_REPO"])
from tests.integration.fakes.discord import point_pycord_at
from tests.integration.fakes.slack import point_slack_sdk_at
point_pycord_at(os.environ["FAKE_DISCORD_API"])
point_slack_sdk_at(os.environ["FAKE_SLACK_API"])
del sys.path[0]
sys.argv = ["astrbot", "run"]
from astrbot.cli.__main__ import cli
sys.exit(cli())
"""
"""``astrbot run`` with py-cord's and slack_sdk's base URLs pointed at the fakes first
(they have no config key; Lark's ``domain`` has)."""


@dataclass
class Catchup:
    """One platform's reminder: where it must land and the fake that records it."""

    fake: CloudPeer
    chat: str
    text: str
    mark: int
    """Index into the fake's calls at the restart."""

    def copies(self) -> list[str]:
        """What arrived in :attr:`chat` since the restart that starts with :attr:`text`
        (the plugin adds a "late" line to a catch-up run)."""
        return [t for t in self.fake.texts(self.mark, self.chat) if t.startswith(self.text)]

    def wait(self, timeout: float = 45) -> list[str]:
        """:meth:`copies` once one arrived (or ``timeout`` passed), and a second later."""
        deadline = time.monotonic() + timeout
        while not self.copies() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        return self.copies()


def _create(proc: AstrBotProcess, fake: CloudPeer, chat: str, push) -> None:
    """Send ``/cron add`` through the platform and wait for the plugin's answer."""
    mark = fake.mark()
    proc.run(push)
    proc.run(fake.wait_for_message(chat, "Created", since=mark, prefix=True, timeout=30), 35)


def _add_platforms(proc: AstrBotProcess, peers: list[CloudPeer]) -> None:
    path = proc.home / "data" / "cmd_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["platform"].extend(peer.platform_config() for peer in peers)
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")


def _wait_logins(proc: AstrBotProcess, peers: list[CloudPeer], count: int) -> None:
    deadline = time.monotonic() + 60
    while any(peer.logins < count for peer in peers):
        assert time.monotonic() < deadline, (
            f"not all platforms logged in: {[(p.platform_id, p.logins) for p in peers]}\n"
            + proc.log_tail()
        )
        time.sleep(0.1)


@pytest.fixture(scope="module")
def catchups() -> Iterator[dict[str, Catchup]]:
    """Reminders made on each platform, AstrBot down while they fell due, then back."""
    discord, slack, lark = FakeDiscord(), FakeSlack(), FakeLark()
    peers: list[CloudPeer] = [discord, slack, lark]
    proc = AstrBotProcess(command=[str(VENV_BIN / "python"), "-c", BOOT])
    try:
        for peer in peers:
            proc.run(peer.start())
        proc.extra_env.update(
            FUTURE_TASKS_REPO=str(REPO_ROOT),
            FAKE_DISCORD_API=discord.api_base_template,
            FAKE_SLACK_API=slack.api_url,
        )
        _add_platforms(proc, peers)
        proc.start()
        _wait_logins(proc, peers, 1)
        dm = discord.dm_channel_of("940000000000000001")
        im, p2p = slack.im_of("U00000041"), lark.p2p_chat_of("ou_user00000000000041")
        due = time.monotonic() + DUE_IN_S
        command = f"/cron add {DUE_IN_S}s"
        _create(proc, discord, dm, discord.push_dm("940000000000000001", f"{command} dc back"))
        _create(proc, slack, im, slack.push_dm("U00000041", f"{command} slack back"))
        _create(proc, lark, p2p, lark.push_dm("ou_user00000000000041", f"{command} lark back"))
        proc.stop()
        assert time.monotonic() < due, "the reminders were due before AstrBot went down"
        time.sleep(due - time.monotonic() + 1)
        for peer in peers:
            peer.hold_login()
        marks = {peer.platform_id: peer.mark() for peer in peers}
        proc.start()  # returns once the plugin's scheduler is up (and OneBot is back)
        time.sleep(LOGIN_HELD_S)
        for peer in peers:
            peer.release_login()
        _wait_logins(proc, peers, 2)
        yield {
            "discord": Catchup(discord, dm, "dc back", marks["discord"]),
            "slack": Catchup(slack, im, "slack back", marks["slack"]),
            "lark": Catchup(lark, p2p, "lark back", marks["lark"]),
        }
    finally:
        for peer in peers:
            with contextlib.suppress(Exception):
                proc.run(peer.stop(), 10)
        proc.close()
        proc.dump_log("astrbot-cloud-restart.log")
        proc.cleanup()


def _arrives_once_after_login(catchup: Catchup) -> None:
    """Once, and not before the platform's held login was answered (``login_path``)."""
    assert len(catchup.wait()) == 1, catchup.fake.texts(catchup.mark)
    fake, calls = catchup.fake, catchup.fake.calls
    sent = next(
        i
        for i in range(catchup.mark, len(calls))
        if calls[i].delivered and calls[i].text.startswith(catchup.text)
    )
    login = fake.login_answered(catchup.mark)
    assert login is not None and sent > login, (
        f"sent before {fake.platform_id} logged in: {calls[catchup.mark : sent + 1]}"
    )


def test_a_discord_reminder_due_during_downtime_arrives_once_after_login(
    catchups: dict[str, Catchup],
) -> None:
    _arrives_once_after_login(catchups["discord"])


@pytest.mark.parametrize("platform", ["slack", "lark"])
def test_a_reminder_due_during_downtime_arrives_once_after_the_restart(
    catchups: dict[str, Catchup], platform: str
) -> None:
    catchup = catchups[platform]
    assert len(catchup.wait()) == 1, catchup.fake.texts(catchup.mark)


@pytest.mark.parametrize("platform", ["slack", "lark"])
def test_a_reminder_due_during_downtime_waits_until_its_platform_connected(
    catchups: dict[str, Catchup], platform: str
) -> None:
    _arrives_once_after_login(catchups[platform])
