"""The plugin inside the real AstrBot: its scheduler runs, and a reminder created through
the service arrives at a OneBot v11 (QQ) client on loopback, once."""

from __future__ import annotations

import time

from core.service import Actor, JobSpec
from tests.integration.harness import PLUGIN_NAME, AstrBot


def _actor(astrbot: AstrBot, user_id: int, group: int | None = None) -> Actor:
    origin = astrbot.umo(group, group=True) if group else astrbot.umo(user_id)
    return Actor(origin=origin, sender_id=str(user_id), sender_name="tester")


def test_scheduler_started_with_astrbot(astrbot: AstrBot) -> None:
    status = astrbot.run(astrbot.plugin.service.status())
    assert status["enabled"] is True, status
    assert status["off_reason"] is None and status["last_error"] is None
    assert status["database_path"].endswith("future_tasks.db")
    assert astrbot.logs.grep("[future tasks] scheduler started")


def test_reminder_created_through_the_service_arrives_once(
    astrbot: AstrBot, onebot_mark: int
) -> None:
    service = astrbot.plugin.service
    created_at = time.monotonic()
    job = astrbot.run(
        service.create(_actor(astrbot, 4242), JobSpec(message="stretch now", run_at="2s"))
    )
    assert len(job.id) == 8 and job.next_run_at is not None
    action = astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.name == "send_private_msg" and a.text == "stretch now",
            timeout=15,
            since=onebot_mark,
        )
    )
    waited = action.monotonic - created_at
    assert action.params["user_id"] == 4242
    assert 1.5 <= waited <= 4.0, waited  # due 2 s after creation, no 60-s poll in between
    time.sleep(1.5)
    copies = [a for a in astrbot.onebot.sent(onebot_mark) if a.text == "stretch now"]
    assert len(copies) == 1
    runs, total = astrbot.run(service.store.runs_for(job.id))
    assert total == 1 and runs[0].status.value == "ok" and runs[0].delivery.value == "delivered"
    assert astrbot.run(service.store.get_job(job.id)) is None  # one-shot: deleted on success


def test_group_reminder_arrives_in_the_group(astrbot: AstrBot, onebot_mark: int) -> None:
    service = astrbot.plugin.service
    actor = _actor(astrbot, 4243, group=777)
    astrbot.run(service.create(actor, JobSpec(message="standup", run_at="1s")))
    action = astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.name == "send_group_msg" and a.text == "standup",
            timeout=15,
            since=onebot_mark,
        )
    )
    assert action.params["group_id"] == 777


def test_reload_and_disable_never_leave_two_timers(astrbot: AstrBot, onebot_mark: int) -> None:
    """terminate() on reload stops the old engine; the new one picks up stored jobs."""
    old = astrbot.plugin
    job = astrbot.run(
        old.service.create(_actor(astrbot, 4244), JobSpec(message="after reload", run_at="3s"))
    )
    astrbot.run(astrbot.lifecycle.plugin_manager.reload(PLUGIN_NAME), timeout=60)
    new = astrbot.plugin
    assert new is not old
    assert old.engine.started is False and old.engine._timer is None
    assert new.engine.started is True
    timers = [
        t
        for t in astrbot.run(_all_tasks())
        if t.get_name() == "future-tasks-timer" and not t.done()
    ]
    assert len(timers) == 1
    astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.text == "after reload", timeout=15, since=onebot_mark
        )
    )
    time.sleep(1)
    assert [a.text for a in astrbot.onebot.sent(onebot_mark)].count("after reload") == 1
    assert astrbot.run(new.service.store.get_job(job.id)) is None


async def _all_tasks() -> list:
    import asyncio

    return list(asyncio.all_tasks())
