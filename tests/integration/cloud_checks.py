"""Checks shared by the Slack, Lark and Discord delivery tests."""

from __future__ import annotations

import time

from tests.integration.fakes.cloud import CloudPeer
from tests.integration.harness import AstrBot


def arrives_once(astrbot: AstrBot, fake: CloudPeer, chat: str, text: str, since: int) -> None:
    """``text`` reaches ``chat`` and, a second later, is still there only once."""
    astrbot.run(fake.wait_for_message(chat, text, timeout=20, since=since), timeout=25)
    time.sleep(1)
    assert fake.texts(since, chat).count(text) == 1, fake.texts(since)


def replied(astrbot: AstrBot, fake: CloudPeer, chat: str, since: int) -> str:
    """The text of the plugin's "Created …" answer to ``/cron add`` in ``chat``."""
    call = astrbot.run(fake.wait_for_message(chat, "Created", since=since, prefix=True))
    return call.text


def outcomes(astrbot: AstrBot, job_id: str, timeout: float = 20) -> list[tuple[str, str]]:
    """(status, delivery) of each run of ``job_id``, once the newest run has finished."""
    deadline = time.monotonic() + timeout
    while True:
        runs = astrbot.runs(job_id)
        if (runs and runs[0].status.value != "running") or time.monotonic() > deadline:
            return [(r.status.value, r.delivery.value) for r in runs]
        time.sleep(0.2)
