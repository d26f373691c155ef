"""Fixtures for integration tests against a real, in-process AstrBot.

AstrBot boots once per pytest process (it keeps process-global state), so the
``astrbot`` fixture is session-scoped; run these tests in their own pytest
process, separately from ``tests/unit``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.fakes.discord import FakeDiscord
from tests.integration.fakes.lark import FakeLark
from tests.integration.fakes.slack import FakeSlack
from tests.integration.harness import AstrBot, AstrBotRunner
from tests.integration.peers import loopback_peers


@pytest.fixture(scope="session")
def astrbot() -> Iterator[AstrBot]:
    """The running AstrBot with the plugin loaded, the fake OneBot connected and the
    telegram adapter long-polling the fake Bot API (``astrbot.telegram``), every loopback
    peer of tests/integration/peers.py connected and the cloud platforms logged in to their
    fakes (``astrbot.peers["satori"]``, ``astrbot.peers["discord"]``…)."""
    runner = AstrBotRunner(peers=[*loopback_peers(), FakeDiscord(), FakeSlack(), FakeLark()])
    handle = runner.start()  # raises AstrBotBootError (with log lines) on failure
    try:
        yield handle
    finally:
        runner.stop()
        runner.dump_logs()
        runner.cleanup()


@pytest.fixture
def onebot_mark(astrbot: AstrBot) -> int:
    """Index into ``astrbot.onebot.actions`` at test start, for ``since=``."""
    return astrbot.onebot.mark()


@pytest.fixture
def tg_mark(astrbot: AstrBot) -> int:
    """Index into ``astrbot.telegram.calls`` at test start, for ``since=``."""
    return astrbot.telegram.mark()
