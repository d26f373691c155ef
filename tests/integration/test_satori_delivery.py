"""Reminders on Satori, through AstrBot's real satori adapter talking to a fake Satori
server (tests/integration/fakes/satori.py): where they arrive, every target form the README
documents, and what the run history says when the server refuses or is away."""

from __future__ import annotations

import time

import pytest

from core.service import Actor, JobSpec
from tests.integration.fakes.satori import FakeSatori, text_of
from tests.integration.harness import AstrBot
from tests.integration.peers import SATORI_ADMIN_ID, SATORI_ID

MESSAGE_CREATE = "/satori/v1/message.create"


@pytest.fixture
def satori(astrbot: AstrBot) -> FakeSatori:
    fake = astrbot.peers[SATORI_ID].fake
    fake.failures.clear()
    return fake


def _arrived(astrbot: AstrBot, fake: FakeSatori, text: str, since: int, timeout: float = 20):
    """The accepted ``message.create`` carrying ``text``."""
    return astrbot.run(
        fake.wait_for_call(
            lambda c: c.path == MESSAGE_CREATE and c.ok and text_of(c) == text,
            timeout=timeout,
            since=since,
        ),
        timeout + 5,
    )


def _accepted(fake: FakeSatori, text: str, since: int) -> list:
    return [c for c in fake.sent(since) if c.ok and text_of(c) == text]


def _admin() -> Actor:
    origin = f"{SATORI_ID}:FriendMessage:private:{SATORI_ADMIN_ID}"
    return Actor(origin=origin, sender_id=SATORI_ADMIN_ID, is_admin=True)


def _history(astrbot: AstrBot, job_id: str) -> list[tuple[str, str]]:
    return [(r.status.value, r.delivery.value) for r in astrbot.finished_runs(job_id)]


def _remind(astrbot: AstrBot, user_id: str, text: str):
    """A member's reminder due in 1 s, asked for in their private channel."""
    actor = Actor(origin=f"{SATORI_ID}:FriendMessage:private:{user_id}", sender_id=user_id)
    return astrbot.run(astrbot.plugin.service.create(actor, JobSpec(message=text, run_at="1s")))


def test_a_reminder_made_in_a_satori_private_chat_arrives_there_once(
    astrbot: AstrBot, satori: FakeSatori
) -> None:
    mark = satori.mark()
    astrbot.run(satori.push_message("3101", "/cron add 2s satori private hello",
                                    channel_id="private:3101"))  # fmt: skip
    call = _arrived(astrbot, satori, "satori private hello", mark)
    assert call.body["channel_id"] == "private:3101"
    time.sleep(1)
    assert len(_accepted(satori, "satori private hello", mark)) == 1


def test_a_reminder_made_in_a_satori_guild_channel_arrives_in_that_channel_once(
    astrbot: AstrBot, satori: FakeSatori
) -> None:
    mark = satori.mark()
    astrbot.run(satori.push_message("3102", "/cron add 2s satori guild hello",
                                    channel_id="chan-7", guild_id="guild-7"))  # fmt: skip
    call = _arrived(astrbot, satori, "satori guild hello", mark)
    assert call.body["channel_id"] == "chan-7"
    time.sleep(1)
    assert len(_accepted(satori, "satori guild hello", mark)) == 1


@pytest.mark.parametrize(
    ("to", "channel_id"),
    [
        ("channel:chan-9", "chan-9"),
        ("chan-10", "chan-10"),
        ("user:3109", "private:3109"),  # opened with user.channel.create at send time
        ("private:3110", "private:3110"),
        (f"{SATORI_ID}:GroupMessage:chan-11", "chan-11"),
    ],
)
def test_an_admins_explicit_satori_target_arrives_where_it_says(
    astrbot: AstrBot, satori: FakeSatori, to: str, channel_id: str
) -> None:
    mark = satori.mark()
    text = f"explicit to {to}"
    job = astrbot.run(
        astrbot.plugin.service.create(
            _admin(), JobSpec(message=text, run_at="1s", channel=SATORI_ID, to=to)
        )
    )
    assert _arrived(astrbot, satori, text, mark).body["channel_id"] == channel_id
    time.sleep(0.5)
    assert _history(astrbot, job.id) == [("ok", "delivered")]


def test_a_satori_server_error_is_retried_and_the_reminder_delivered_once(
    astrbot: AstrBot, satori: FakeSatori
) -> None:
    satori.fail_next(MESSAGE_CREATE, 502)
    mark = satori.mark()
    job = _remind(astrbot, "3103", "flaky satori")
    delivered = _arrived(astrbot, satori, "flaky satori", mark, timeout=30)
    failed = [c for c in satori.sent(mark) if text_of(c) == "flaky satori" and not c.ok]
    assert [c.status for c in failed] == [502]
    assert 4.5 <= delivered.monotonic - failed[0].monotonic <= 8  # the first retry waits 5 s
    time.sleep(0.5)
    assert len(_accepted(satori, "flaky satori", mark)) == 1
    assert _history(astrbot, job.id) == [("ok", "delivered")]


def test_a_satori_refusal_is_recorded_as_not_delivered_without_retrying(
    astrbot: AstrBot, satori: FakeSatori
) -> None:
    satori.fail_next(MESSAGE_CREATE, 403)
    mark = satori.mark()
    job = _remind(astrbot, "3104", "refused satori")
    astrbot.run(satori.wait_for_call(lambda c: c.status == 403, since=mark, timeout=20), 25)
    runs = astrbot.finished_runs(job.id)
    assert [(r.status.value, r.delivery.value) for r in runs] == [("error", "not-delivered")]
    assert "HTTP 403" in (runs[0].error or "")
    assert len(satori.sent(mark)) == 1  # not retried


def test_a_reminder_due_while_satori_is_disconnected_goes_out_once_after_it_reconnects(
    astrbot: AstrBot, satori: FakeSatori
) -> None:
    satori.accepting = False
    astrbot.run(satori.drop_connections())
    try:
        mark = satori.mark()
        job = _remind(astrbot, "3105", "held satori")
        time.sleep(3)
        assert satori.sent(mark) == []  # nothing tried while the adapter has no connection
    finally:
        satori.accepting = True
    reconnected = time.monotonic()
    call = _arrived(astrbot, satori, "held satori", mark, timeout=30)
    assert call.monotonic >= reconnected
    time.sleep(0.5)
    assert len(_accepted(satori, "held satori", mark)) == 1
    assert _history(astrbot, job.id) == [("ok", "delivered")]
