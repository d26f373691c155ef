"""Moving AstrBot's built-in future tasks into the plugin (issue 14), against AstrBot's real
``CronJobManager`` with real core tasks: ``/cron import-core`` lists, ``... confirm``
moves; the web API does the same for the page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.harness import ADMIN_ID, AstrBot
from tests.integration.test_cron_commands import _say
from tests.integration.test_web_api import Dashboard, web  # noqa: F401  (the fixture)

OWNER = 5301
ZONE = "Europe/Berlin"


def add_core_task(astrbot: AstrBot, name: str, **kw: Any) -> Any:
    manager = astrbot.context.cron_manager
    return astrbot.run(manager.add_active_job(name=name, **kw))


def core_job(astrbot: AstrBot, core_id: str) -> Any:
    return astrbot.run(astrbot.context.cron_manager.db.get_cron_job(core_id))


def plugin_job(astrbot: AstrBot, job_id: str) -> Any:
    return astrbot.run(astrbot.plugin.runtime.store.get_job(job_id))


@pytest.fixture
def core_tasks(astrbot: AstrBot):
    """A weekly cron task, a one-shot and one without a chat, as AstrBot's own
    ``future_task`` tool makes them; removed from both schedulers afterwards."""
    session = astrbot.umo(OWNER)
    run_at = datetime.now(ZoneInfo(ZONE)).replace(microsecond=0) + timedelta(days=2)
    tasks = [
        add_core_task(
            astrbot,
            "weekly log",
            cron_expression="0 17 * * 5",
            timezone=ZONE,
            description="summarize this week's work log",
            payload={"session": session, "sender_id": str(OWNER), "note": "summarize the log"},
        ),
        add_core_task(
            astrbot,
            "dentist",
            cron_expression=None,
            timezone=ZONE,
            payload={"session": session, "sender_id": str(OWNER), "note": "dentist at 10"},
            run_once=True,
            run_at=run_at,
        ),
        add_core_task(astrbot, "nowhere", cron_expression="0 8 * * *", payload={"note": "no chat"}),
    ]
    yield tasks, run_at
    manager = astrbot.context.cron_manager
    for task in tasks:
        astrbot.run(manager.delete_job(task.job_id))
        moved = (core_job(astrbot, task.job_id) or task).payload.get("moved_to_future_tasks")
        if moved:
            astrbot.run(astrbot.plugin.runtime.store.delete_job(moved))


def test_import_core_lists_first_then_moves_and_disables_without_deleting(
    astrbot: AstrBot, core_tasks: Any
) -> None:
    (weekly, once, nowhere), run_at = core_tasks
    listing = _say(astrbot, int(ADMIN_ID), "/cron import-core", since=astrbot.onebot.mark())
    assert "weekly log: cron 0 17 * * 5" in listing, listing
    assert "dentist: once" in listing and "not importable: it has no chat" in listing
    assert "/cron import-core confirm" in listing
    assert core_job(astrbot, weekly.job_id).enabled  # a listing changes nothing

    reply = _say(astrbot, int(ADMIN_ID), "/cron import-core confirm", since=astrbot.onebot.mark())
    assert reply.startswith("Imported 2 of 3"), reply

    weekly_after, once_after = core_job(astrbot, weekly.job_id), core_job(astrbot, once.job_id)
    assert weekly_after is not None and once_after is not None  # never deleted
    assert not weekly_after.enabled and not once_after.enabled
    assert core_job(astrbot, nowhere.job_id).enabled  # not importable: left as it was

    job = plugin_job(astrbot, weekly_after.payload["moved_to_future_tasks"])
    assert job.payload.mode.value == "isolated"
    assert job.payload.message == "summarize the log" and job.name == "weekly log"
    assert job.schedule.kind.value == "cron" and job.schedule.expr == "0 17 * * 5"
    assert job.schedule.tz == ZONE
    assert job.owner.origin == astrbot.umo(OWNER) and job.owner.sender_id == str(OWNER)

    one_shot = plugin_job(astrbot, once_after.payload["moved_to_future_tasks"])
    assert one_shot.schedule.kind.value == "at"
    assert one_shot.schedule.at_ms == int(run_at.timestamp() * 1000)

    again = _say(astrbot, int(ADMIN_ID), "/cron import-core", since=astrbot.onebot.mark())
    assert "weekly log" not in again and "dentist" not in again, again  # moved ones stay moved


def test_import_core_is_for_admins_only(astrbot: AstrBot, core_tasks: Any) -> None:
    reply = _say(astrbot, OWNER, "/cron import-core confirm", since=astrbot.onebot.mark())
    assert reply.startswith("Error: only admins"), reply
    assert core_job(astrbot, core_tasks[0][0].job_id).enabled
    usage = _say(astrbot, OWNER, "/cron help", since=astrbot.onebot.mark())
    assert "/cron import-core [confirm]" in usage, usage


def test_the_page_sees_two_schedulers_and_imports(
    astrbot: AstrBot,
    core_tasks: Any,
    web: Dashboard,  # noqa: F811
) -> None:
    listed = web.get("/core-tasks")
    assert listed.status == 200, listed
    names = {task["name"]: task for task in listed.body["tasks"]}
    assert {"weekly log", "dentist", "nowhere"} <= set(names)
    assert names["nowhere"]["problem"] and not names["weekly log"]["problem"]
    assert listed.body["two_schedulers"] is True

    moved = web.post("/core-tasks/import", {})
    assert moved.status == 200, moved
    done = {m["name"]: m for m in moved.body["moved"]}
    assert done["weekly log"]["job_id"] and done["nowhere"]["error"]
    assert plugin_job(astrbot, done["weekly log"]["job_id"]) is not None
    after = web.get("/core-tasks").body
    assert [t["name"] for t in after["tasks"] if t["name"] != "nowhere"] == [], after
