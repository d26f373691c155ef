"""JSON views of jobs and runs, and the checks on web API request bodies and queries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.errors import UserError
from core.models import Delivery, Run, RunStatus, Trigger
from core.service import JobChanges, JobSpec
from core.views import (
    CREATE_FIELDS,
    check_session,
    iso_time,
    job_view,
    local_time,
    parse_bool,
    parse_changes,
    parse_create,
    parse_list_query,
    parse_runs_query,
    run_view,
    status_view,
)
from tests.unit.conftest import ALICE, World, at

# ----- job_view ----------------------------------------------------------------------------


async def test_job_view_of_a_cron_job(world: World) -> None:
    job = await world.create(
        message="standup", cron="0 7 * * mon-fri", tz="Asia/Shanghai", name="daily"
    )
    view = job_view(job)
    json.dumps(view)  # plain JSON all the way down
    assert view["id"] == job.id and view["name"] == "daily" and view["display_name"] == "daily"
    assert view["owner"] == {
        "origin": ALICE.origin,
        "sender_id": "1001",
        "sender_name": "alice",
        "key": "qq:1001",
    }
    assert view["mode"] == "reminder" and view["message"] == "standup"
    schedule = view["schedule"]
    assert schedule["kind"] == "cron" and schedule["expr"] == "0 7 * * mon-fri"
    assert schedule["tz"] == "Asia/Shanghai" and schedule["text"] == job.schedule.text
    assert schedule["words"] == "cron 0 7 * * mon-fri (Asia/Shanghai)"
    assert schedule["every_ms"] is None and schedule["at"] is None
    # 2026-01-05 09:00 UTC is 17:00 in Shanghai, a Monday: next 07:00 is Tuesday's.
    assert view["next_run_at"] == at("2026-01-06 07:00", "Asia/Shanghai")
    assert view["next_run_local"] == "2026-01-06 07:00:00 CST (Asia/Shanghai)"
    assert view["enabled"] is True and view["running"] is False
    assert view["last_run_at"] is None and view["last_run_local"] is None
    assert view["last_status"] is None and view["consecutive_errors"] == 0
    assert view["catch_up"] == "once" and view["delete_after_run"] is False
    assert view["target"]["words"] == "this chat" and view["target"]["session"] is None
    assert view["created_at"] == view["updated_at"] == at("2026-01-05 09:00")


async def test_job_view_of_interval_and_one_shot(world: World) -> None:
    every = job_view(await world.create(message="water", every="90m"))
    assert every["schedule"]["kind"] == "every" and every["schedule"]["every_ms"] == 5_400_000
    assert every["schedule"]["every"] == "1h30m" and every["schedule"]["words"] == "every 1h30m"

    once = job_view(await world.create(message="tea", run_at="20m", tz="Europe/Berlin"))
    assert once["schedule"]["kind"] == "at"
    assert once["schedule"]["at"] == at("2026-01-05 09:20") == once["next_run_at"]
    assert once["schedule"]["at_local"] == "2026-01-05 10:20:00 CET (Europe/Berlin)"
    assert once["schedule"]["words"] == "once at 2026-01-05 10:20 CET"
    assert once["delete_after_run"] is True


async def test_job_view_after_a_run_and_when_paused(world: World) -> None:
    job = await world.create(message="ping", every="1h", tz="America/New_York")
    await world.at_time(at("2026-01-05 10:00"))
    ran = await world.job(job.id)
    assert ran is not None
    view = job_view(ran)
    assert view["last_run_at"] == at("2026-01-05 10:00")
    assert view["last_run_local"] == "2026-01-05 05:00:00 EST (America/New_York)"
    assert view["last_status"] == "ok" and view["last_delivery"] == "delivered"

    paused = await world.service.set_enabled(ALICE, job.id, False)
    view = job_view(paused)
    assert view["enabled"] is False
    assert view["next_run_at"] is None and view["next_run_local"] is None
    assert view["state"] == "paused"


# ----- run_view and status -----------------------------------------------------------------


def test_run_view() -> None:
    run = Run(
        run_id="abc-1",
        job_id="abc",
        trigger=Trigger.MANUAL,
        slot_at=None,
        started_at=at("2026-03-08 09:14"),
        ended_at=at("2026-03-08 09:14") + 1500,
        status=RunStatus.OK,
        delivery=Delivery.DELIVERED,
        output="hello",
    )
    view = run_view(run, "Asia/Shanghai")
    json.dumps(view)
    assert view == {
        "run_id": "abc-1",
        "job_id": "abc",
        "trigger": "manual",
        "status": "ok",
        "delivery": "delivered",
        "late": False,
        "slot_at": None,
        "slot_local": None,
        "started_at": run.started_at,
        "started_local": "2026-03-08 17:14:00 CST (Asia/Shanghai)",
        "ended_at": run.ended_at,
        "ended_local": "2026-03-08 17:14:01 CST (Asia/Shanghai)",
        "duration_ms": 1500,
        "output": "hello",
        "error": "",
    }
    running = run.model_copy(update={"ended_at": None, "status": RunStatus.RUNNING})
    assert run_view(running, "UTC")["duration_ms"] is None


def test_status_view_and_times() -> None:
    wake = at("2026-01-05 09:00")
    view = status_view(
        {"enabled": True, "jobs": {"total": 1}, "next_wake_at": wake}, "Asia/Shanghai"
    )
    assert view["timezone"] == "Asia/Shanghai" and view["jobs"] == {"total": 1}
    assert view["next_wake_iso"] == "2026-01-05T17:00:00+08:00"
    assert view["next_wake_local"] == "2026-01-05 17:00:00 CST (Asia/Shanghai)"
    idle = status_view({"enabled": False, "next_wake_at": None}, "UTC")
    assert idle["next_wake_iso"] is None and idle["next_wake_local"] is None
    # A zone that no longer exists falls back to UTC instead of failing the whole page.
    assert local_time(wake, "Gone/Zone") == "2026-01-05 09:00:00 UTC (UTC)"
    assert iso_time(wake, "Gone/Zone") == "2026-01-05T09:00:00+00:00"


# ----- request bodies ----------------------------------------------------------------------


def test_parse_create_builds_a_spec_and_the_owner() -> None:
    wanted = parse_create(
        {
            "session": " onebot:GroupMessage:555 ",
            "owner_id": "12345",
            "message": "hi",
            "every": "2h",
            "deliver": True,
            "timeout_seconds": 30.0,
            "media": "https://example.invalid/a.png",
            "model": "prov/x",
            "tz": None,
        }
    )
    assert wanted.session == "onebot:GroupMessage:555" and wanted.owner_id == "12345"
    assert wanted.owner_name == ""
    assert isinstance(wanted.spec, JobSpec)
    assert wanted.spec.every == "2h" and wanted.spec.deliver is True and wanted.spec.tz is None
    assert wanted.spec.timeout_seconds == 30 and wanted.spec.provider_id == "prov/x"
    assert wanted.spec.media == ["https://example.invalid/a.png"]

    default = parse_create({"session": "tg:FriendMessage:42", "message": "x", "run_at": "1h"})
    assert default.owner_id == "dashboard" and default.owner_name == "WebUI"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([], "JSON object"),
        ("x", "JSON object"),
        (None, "JSON object"),
        ({"message": "x"}, "session is required"),
        ({"session": "", "message": "x"}, "session is required"),
        ({"session": 5, "message": "x"}, "session"),
        ({"session": "onebot:12345"}, "not a session id"),
        ({"session": "onebot:Friend:1"}, "not a session id"),
        ({"session": "onebot:FriendMessage:"}, "not a session id"),
        ({"session": "onebot:FriendMessage:1 2"}, "not a session id"),
        ({"session": "onebot:FriendMessage:1\x00"}, "not a session id"),
        ({"session": "x" * 300 + ":FriendMessage:1"}, "session"),
        ({"session": "a:FriendMessage:1", "colour": "red"}, "unknown field 'colour'"),
        ({"session": "a:FriendMessage:1", "enabled": True}, "unknown field 'enabled'"),
        ({"session": "a:FriendMessage:1", "message": 5}, "message must be a string"),
        ({"session": "a:FriendMessage:1", "deliver": "yes"}, "deliver must be true or false"),
        ({"session": "a:FriendMessage:1", "deliver": 1}, "deliver must be true or false"),
        ({"session": "a:FriendMessage:1", "timeout_seconds": "9"}, "whole number"),
        ({"session": "a:FriendMessage:1", "timeout_seconds": True}, "whole number"),
        ({"session": "a:FriendMessage:1", "timeout_seconds": 1.5}, "whole number"),
        ({"session": "a:FriendMessage:1", "media": [1]}, "media must be a list"),
        ({"session": "a:FriendMessage:1", "media": {"a": "b"}}, "media must be a list"),
        ({"session": "a:FriendMessage:1", "cron": ["0 7 * * *"]}, "cron must be a string"),
        ({"session": "a:FriendMessage:1", "tz": "x" * 300}, "longer than"),
        ({"session": "a:FriendMessage:1", "owner_id": 12}, "owner_id must be a string"),
        ({"session": "a:FriendMessage:1", "owner_id": "a b"}, "owner_id"),
    ],
)
def test_parse_create_refuses(body: Any, words: str) -> None:
    with pytest.raises(UserError, match=words.replace("(", r"\(")):
        parse_create(body)


def test_every_create_field_is_a_spec_field_or_a_web_field() -> None:
    spec_fields = set(JobSpec.__dataclass_fields__) | {"model", "provider", "persona"}
    assert set(CREATE_FIELDS) - spec_fields == {"session", "owner_id", "owner_name"}
    assert spec_fields <= set(CREATE_FIELDS)


def test_parse_changes() -> None:
    changes = parse_changes({"enabled": False, "every": "3h", "name": None})
    assert isinstance(changes, JobChanges)
    assert changes.enabled is False and changes.every == "3h" and changes.name is None
    assert changes.message is None and changes.mode is None
    with pytest.raises(UserError, match="nothing to change"):
        parse_changes({})
    with pytest.raises(UserError, match="nothing to change"):
        parse_changes({"name": None})
    with pytest.raises(UserError, match="unknown field 'session'"):
        parse_changes({"session": "a:FriendMessage:1"})
    with pytest.raises(UserError, match="enabled must be true or false"):
        parse_changes({"enabled": "false"})
    with pytest.raises(UserError, match="JSON object"):
        parse_changes([{"enabled": False}])


def test_check_session_accepts_real_forms() -> None:
    for session in (
        "onebot:FriendMessage:12345",
        "tg:GroupMessage:-100123#45",
        "webchat:FriendMessage:astrbot!abc:def",
        "slack:OtherMessage:C0123",
    ):
        assert check_session(session) == session


# ----- queries -----------------------------------------------------------------------------


def test_parse_list_query() -> None:
    assert parse_list_query({}) == {
        "query": None,
        "enabled": None,
        "owner": None,
        "limit": 50,
        "offset": 0,
    }
    parsed = parse_list_query(
        {"q": " tea ", "enabled": "false", "owner": "onebot:1", "limit": "500", "offset": "20"}
    )
    assert parsed == {
        "query": "tea",
        "enabled": False,
        "owner": "onebot:1",
        "limit": 200,
        "offset": 20,
    }
    for bad, words in [
        ({"limit": "x"}, "limit"),
        ({"limit": "0"}, "limit must be at least 1"),
        ({"limit": "1.5"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "99999999999"}, "offset"),
        ({"enabled": "maybe"}, "enabled"),
        ({"owner": "nobody"}, "owner"),
        ({"owner": ":x"}, "owner"),
        ({"q": "x" * 201}, "q is longer"),
    ]:
        with pytest.raises(UserError, match=words):
            parse_list_query(bad)


def test_parse_runs_query_and_bools() -> None:
    assert parse_runs_query({}) == {"status": None, "limit": 20, "offset": 0}
    assert parse_runs_query({"status": "OK", "limit": "5", "offset": "5"}) == {
        "status": "ok",
        "limit": 5,
        "offset": 5,
    }
    with pytest.raises(UserError, match="unknown status"):
        parse_runs_query({"status": "great"})
    assert parse_bool("TRUE", "x") is True and parse_bool("0", "x") is False
    assert parse_bool("", "x") is None and parse_bool(None, "x") is None
