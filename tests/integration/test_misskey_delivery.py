"""Reminders on Misskey, through AstrBot's real misskey adapter talking to a fake Misskey
instance (tests/integration/fakes/misskey.py): chats, rooms and note threads, every target
form the README documents, failures, and never a public note unless an admin asked."""

from __future__ import annotations

import time

import pytest

from core.service import Actor, JobSpec
from tests.integration.fakes.misskey import NOTES, TO_ROOM, TO_USER, FakeMisskey
from tests.integration.harness import AstrBot
from tests.integration.peers import MISSKEY_ADMIN_ID, MISSKEY_ID


@pytest.fixture
def misskey(astrbot: AstrBot) -> FakeMisskey:
    fake = astrbot.peers[MISSKEY_ID].fake
    fake.failures.clear()
    return fake


def text_of(call) -> str:
    """The posted text without the ``@user`` line the adapter puts first for users it has
    in its cache (misskey_utils.py ``add_at_mention_if_needed``)."""
    text = str(call.body.get("text") or "")
    first, _, rest = text.partition("\n")
    return rest if first.startswith("@") and rest else text


def _arrived(astrbot: AstrBot, fake: FakeMisskey, text: str, since: int, timeout: float = 20):
    """The accepted call that posted ``text`` (a chat message, room message or note)."""
    return astrbot.run(
        fake.wait_for_call(
            lambda c: c.ok and c.path in (NOTES, TO_USER, TO_ROOM) and text_of(c) == text,
            timeout=timeout,
            since=since,
        ),
        timeout + 5,
    )


def _accepted(fake: FakeMisskey, text: str, since: int) -> list:
    return [c for c in fake.sent(since) if c.ok and text_of(c) == text]


def _history(astrbot: AstrBot, job_id: str) -> list[tuple[str, str]]:
    return [(r.status.value, r.delivery.value) for r in astrbot.finished_runs(job_id)]


def _create(astrbot: AstrBot, actor: Actor, text: str, **target: str):
    return astrbot.run(
        astrbot.plugin.service.create(actor, JobSpec(message=text, run_at="1s", **target))
    )


def _member(user_id: str) -> Actor:
    return Actor(origin=f"{MISSKEY_ID}:FriendMessage:chat%{user_id}", sender_id=user_id)


@pytest.mark.parametrize(
    ("room", "path", "field", "value"),
    [(None, TO_USER, "toUserId", "4101"), ("room-1", TO_ROOM, "toRoomId", "room-1")],
)
def test_a_reminder_made_in_a_misskey_chat_or_room_arrives_there_once(
    astrbot: AstrBot, misskey: FakeMisskey, room: str | None, path: str, field: str, value: str
) -> None:
    mark = misskey.mark()
    text = f"misskey hello in {value}"
    astrbot.run(misskey.push_chat("4101", f"/cron add 2s {text}", room_id=room))
    call = _arrived(astrbot, misskey, text, mark)
    assert (call.path, call.body[field]) == (path, value)
    time.sleep(1)
    assert len(_accepted(misskey, text, mark)) == 1


def test_a_reminder_asked_for_in_a_note_thread_is_a_chat_message_even_with_an_empty_cache(
    astrbot: AstrBot, misskey: FakeMisskey
) -> None:
    """The adapter's user cache is empty after a restart: a note would then go out with
    the default visibility (public). The reminder goes to its author's chat instead."""
    mark = misskey.mark()
    astrbot.run(misskey.push_mention("4103", "/cron add 3s note thread hello",
                                     visibility="specified"))  # fmt: skip
    created = astrbot.run(
        misskey.wait_for_call(lambda c: "Created" in str(c.body.get("text")), since=mark), 20
    )
    assert created.path == NOTES and created.body["visibility"] == "specified"
    astrbot.adapter(MISSKEY_ID)._user_cache.clear()  # as after a restart
    call = _arrived(astrbot, misskey, "note thread hello", mark)
    assert (call.path, call.body["toUserId"]) == (TO_USER, "4103")
    time.sleep(1)
    assert not [c for c in misskey.calls_to(NOTES, mark) if c.body.get("visibility") == "public"]


@pytest.mark.parametrize(
    ("to", "path", "field", "value"),
    [
        ("user:4104", TO_USER, "toUserId", "4104"),
        ("4105", TO_USER, "toUserId", "4105"),
        ("room:room-2", TO_ROOM, "toRoomId", "room-2"),
        ("note:4106", NOTES, "visibility", "public"),  # a note only because an admin said so
        (f"{MISSKEY_ID}:FriendMessage:chat%4107", TO_USER, "toUserId", "4107"),
    ],
)
def test_an_admins_explicit_misskey_target_arrives_where_it_says(
    astrbot: AstrBot, misskey: FakeMisskey, to: str, path: str, field: str, value: str
) -> None:
    admin = Actor(
        origin=f"{MISSKEY_ID}:FriendMessage:chat%{MISSKEY_ADMIN_ID}",
        sender_id=MISSKEY_ADMIN_ID,
        is_admin=True,
    )
    mark = misskey.mark()
    text = f"explicit to {to}"
    job = _create(astrbot, admin, text, channel=MISSKEY_ID, to=to)
    call = _arrived(astrbot, misskey, text, mark)
    assert (call.path, call.body[field]) == (path, value)
    time.sleep(0.5)
    assert _history(astrbot, job.id) == [("ok", "delivered")]


def test_a_member_can_not_ask_for_a_misskey_note(astrbot: AstrBot) -> None:
    with pytest.raises(Exception, match="only admins may post scheduled output as a Misskey"):
        _create(astrbot, _member("4108"), "x", channel=MISSKEY_ID, to="note:4108")


def test_a_misskey_server_error_is_retried_and_the_reminder_delivered_once(
    astrbot: AstrBot, misskey: FakeMisskey
) -> None:
    """The adapter tries a 5xx three times itself and then swallows it; the plugin sees
    the last answer and tries again later."""
    misskey.fail_next(TO_USER, 502, 502, 502)
    mark = misskey.mark()
    job = _create(astrbot, _member("4109"), "flaky misskey")
    _arrived(astrbot, misskey, "flaky misskey", mark, timeout=45)
    assert [c.status for c in misskey.calls_to(TO_USER, mark)] == [502, 502, 502, 200]
    time.sleep(0.5)
    assert _history(astrbot, job.id) == [("ok", "delivered")]


def test_a_misskey_refusal_is_recorded_as_not_delivered_without_retrying(
    astrbot: AstrBot, misskey: FakeMisskey
) -> None:
    misskey.fail_next(TO_USER, 400)
    mark = misskey.mark()
    job = _create(astrbot, _member("4110"), "refused misskey")
    astrbot.run(misskey.wait_for_call(lambda c: c.status == 400, since=mark, timeout=20), 25)
    runs = astrbot.finished_runs(job.id)
    assert [(r.status.value, r.delivery.value) for r in runs] == [("error", "not-delivered")]
    assert "HTTP 400" in (runs[0].error or "")
    assert len(misskey.calls_to(TO_USER, mark)) == 1
