"""QQ (OneBot v11): an admin's explicit targets (a group number and a QQ number look
alike, so the form must say which one is meant; a bare number is refused, not guessed),
and a send the OneBot side refuses."""

from __future__ import annotations

import time

import pytest

from core.service import Actor, JobSpec
from tests.integration.harness import AstrBot


def _admin(astrbot: AstrBot) -> Actor:
    return Actor(origin=astrbot.umo(astrbot.admin_id), sender_id=astrbot.admin_id, is_admin=True)


@pytest.mark.parametrize(
    ("to", "action", "target"),
    [
        ("group:60601", "send_group_msg", 60601),
        ("user:60602", "send_private_msg", 60602),
        ("onebot:GroupMessage:60603", "send_group_msg", 60603),
    ],
)
def test_an_admins_explicit_qq_target_arrives_where_it_says(
    astrbot: AstrBot, to: str, action: str, target: int
) -> None:
    mark = astrbot.onebot.mark()
    text = f"qq explicit {to}"
    job = astrbot.run(
        astrbot.plugin.service.create(
            _admin(astrbot), JobSpec(message=text, run_at="1s", channel="onebot", to=to)
        )
    )
    sent = astrbot.run(
        astrbot.onebot.wait_for_action(lambda a: a.text == text, timeout=15, since=mark), 20
    )
    assert (sent.name, sent.target) == (action, target)
    time.sleep(0.5)
    assert [r.delivery.value for r in astrbot.runs(job.id)] == ["delivered"]


def test_a_bare_qq_number_is_refused_with_the_forms_to_use(astrbot: AstrBot) -> None:
    with pytest.raises(Exception, match="to=group:60604 or to=user:60604"):
        astrbot.run(
            astrbot.plugin.service.create(
                _admin(astrbot), JobSpec(message="x", run_at="1h", channel="onebot", to="60604")
            )
        )


def test_a_qq_refusal_is_recorded_as_not_delivered(astrbot: AstrBot) -> None:
    """The OneBot side answers ``status: failed`` (e.g. the bot was removed from the group):
    aiocqhttp raises ActionFailed, and the run says so."""

    def refuse(params: dict) -> None:
        raise RuntimeError("bot is not a member of this group")

    astrbot.onebot.responders["send_group_msg"] = refuse
    try:
        actor = Actor(origin=astrbot.umo(60605, group=True), sender_id="60606")
        job = astrbot.run(
            astrbot.plugin.service.create(actor, JobSpec(message="refused qq", run_at="1s"))
        )
        runs = astrbot.finished_runs(job.id)
    finally:
        astrbot.onebot.responders.pop("send_group_msg", None)
    assert [(r.status.value, r.delivery.value) for r in runs] == [("error", "not-delivered")]
