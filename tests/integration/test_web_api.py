"""The web API (SPEC §8.3) through the real dashboard of the in-process AstrBot.

Requests go over HTTP from the test thread with plain urllib; the dashboard runs on
AstrBot's loop in its own thread.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.harness import AstrBot

BASE = "/api/v1/plugins/extensions/astrbot_plugin_future_tasks"
USER = 7301
SESSION = f"onebot:FriendMessage:{USER}"


@dataclass
class Reply:
    status: int
    body: Any
    raw: bytes


class Dashboard:
    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        token: str | None = "default",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        bearer = self.token if token == "default" else token
        if bearer:
            req.add_header("Authorization", f"Bearer {bearer}")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                status, content = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, content = exc.code, exc.read()
        try:
            parsed = json.loads(content) if content else None
        except ValueError:
            parsed = None
        return Reply(status, parsed, content)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", BASE + path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", BASE + path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("PATCH", BASE + path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.call("DELETE", BASE + path, **kw)

    def create(self, **fields: Any) -> dict[str, Any]:
        body = {"session": SESSION, "message": "web hello", **fields}
        if not {"when", "run_at", "every", "cron"} & set(fields):
            body["cron"] = "0 7 * * *"
        reply = self.post("/jobs", body)
        assert reply.status == 201, reply
        return reply.body["job"]


@pytest.fixture(scope="module")
def web(astrbot: AstrBot) -> Dashboard:
    anonymous = Dashboard(astrbot.dashboard_url, None)
    login = anonymous.call(
        "POST",
        "/api/v1/auth/login",
        {"username": astrbot.dashboard_user, "password": astrbot.dashboard_password},
    )
    assert login.status == 200 and login.body["status"] == "ok", login
    return Dashboard(astrbot.dashboard_url, login.body["data"]["token"])


def _error(reply: Reply, status: int, *words: str) -> str:
    assert reply.status == status, reply
    assert isinstance(reply.body, dict) and isinstance(reply.body.get("error"), str), reply
    for word in words:
        assert word in reply.body["error"], reply.body
    return reply.body["error"]


# ----- auth --------------------------------------------------------------------------------


def test_every_route_needs_a_login(web: Dashboard) -> None:
    for method, path in [
        ("GET", "/jobs"),
        ("POST", "/jobs"),
        ("GET", "/jobs/abcdefgh"),
        ("PATCH", "/jobs/abcdefgh"),
        ("DELETE", "/jobs/abcdefgh"),
        ("POST", "/jobs/abcdefgh/run"),
        ("GET", "/jobs/abcdefgh/runs"),
        ("GET", "/status"),
    ]:
        body = {"session": SESSION, "message": "x", "run_at": "1h"} if method != "GET" else None
        reply = web.call(method, BASE + path, body, token=None)
        assert reply.status in (401, 403), (method, path, reply)
        bad = web.call(method, BASE + path, body, token="not-a-token")
        assert bad.status in (401, 403), (method, path, bad)
    listing = web.get("/jobs?q=x")
    assert listing.status == 200


# ----- create ------------------------------------------------------------------------------


def test_create_shows_the_job_and_it_is_in_the_store(astrbot: AstrBot, web: Dashboard) -> None:
    reply = web.post(
        "/jobs",
        {
            "session": SESSION,
            "owner_id": str(USER),
            "message": "drink water",
            "every": "2h",
            "name": "water",
            "tz": "Europe/Berlin",
        },
    )
    assert reply.status == 201, reply
    job = reply.body["job"]
    assert f"id: {job['id']}" in reply.body["reply"]
    assert job["name"] == "water" and job["message"] == "drink water"
    assert job["owner"] == {
        "origin": SESSION,
        "sender_id": str(USER),
        "sender_name": "",
        "key": f"onebot:{USER}",
    }
    assert job["schedule"]["kind"] == "every" and job["schedule"]["every_ms"] == 7_200_000
    assert job["schedule"]["words"] == "every 2h" and job["schedule"]["tz"] == "Europe/Berlin"
    assert job["enabled"] is True and job["running"] is False
    assert job["next_run_at"] and job["next_run_local"].endswith("(Europe/Berlin)")
    stored = astrbot.run(astrbot.plugin.runtime.store.get_job(job["id"]))
    assert stored is not None and stored.owner.sender_id == str(USER)
    assert stored.payload.message == "drink water"

    again = web.get(f"/jobs/{job['id']}")
    assert again.status == 200 and again.body["job"]["id"] == job["id"]


def test_create_defaults_to_the_dashboard_owner_and_model_alias(web: Dashboard) -> None:
    job = web.create(run_at="2h", message="one-shot", model="fakellm/fake-model", mode="isolated")
    assert job["owner"]["sender_id"] == "dashboard" and job["owner"]["sender_name"] == "WebUI"
    assert job["owner"]["origin"] == SESSION
    assert job["schedule"]["kind"] == "at" and job["schedule"]["at"] == job["next_run_at"]
    assert job["delete_after_run"] is True and job["mode"] == "isolated"
    assert job["provider_id"] == "fakellm/fake-model"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"message": "x", "run_at": "1h"}, 400, ["session"]),
        ({"session": "12345", "message": "x", "run_at": "1h"}, 400, ["session", "platform"]),
        ({"session": "onebot:Private:1", "message": "x", "run_at": "1h"}, 400, ["session"]),
        ({"session": SESSION, "message": "x", "run_at": "1h", "colour": "red"}, 400, ["colour"]),
        ({"session": SESSION, "message": "x", "run_at": "tomorrowish"}, 400, []),
        ({"session": SESSION, "message": "x", "run_at": "1h", "tz": "Mars/Olympus"}, 400, ["zone"]),
        ({"session": SESSION, "message": "x", "cron": "61 * * * *"}, 400, []),
        ({"session": SESSION, "message": "x", "every": "10s"}, 400, ["minimum"]),
        ({"session": SESSION, "message": "x"}, 400, ["exactly one"]),
        ({"session": SESSION, "message": "x", "run_at": "1h", "every": "2h"}, 400, []),
        ({"session": SESSION, "message": "   ", "run_at": "1h"}, 400, ["empty"]),
        ({"session": SESSION, "message": 5, "run_at": "1h"}, 400, ["message", "string"]),
        ({"session": SESSION, "message": "x", "run_at": "1h", "deliver": "yes"}, 400, ["deliver"]),
        ({"session": SESSION, "message": "x", "run_at": ["1h"]}, 400, ["run_at"]),
        ({"session": SESSION, "message": "x", "run_at": "1h", "media": {"a": 1}}, 400, ["media"]),
        ({"session": SESSION, "message": "x", "run_at": "1h", "timeout_seconds": "9"}, 400, []),
        ({"session": SESSION, "message": "x", "run_at": "1h", "mode": "party"}, 400, ["mode"]),
        ({"session": SESSION, "message": "x", "run_at": "1h", "catch_up": "2"}, 400, []),
        ({"session": {"a": 1}, "message": "x", "run_at": "1h"}, 400, ["session"]),
        ({"session": SESSION, "message": "x", "run_at": "1h", "owner_id": 5}, 400, ["owner_id"]),
        ([1, 2], 400, ["object"]),
        ("text", 400, ["object"]),
        (None, 400, []),
    ],
)
def test_create_refuses_bad_input(
    astrbot: AstrBot, web: Dashboard, body: Any, status: int, words: list[str]
) -> None:
    before = astrbot.run(astrbot.plugin.runtime.store.counts())["total"]
    reply = web.post("/jobs", body) if body is not None else web.post("/jobs", raw=b"")
    _error(reply, status, *words)
    assert astrbot.run(astrbot.plugin.runtime.store.counts())["total"] == before


def test_bad_json_and_big_bodies_are_refused(astrbot: AstrBot, web: Dashboard) -> None:
    before = astrbot.run(astrbot.plugin.runtime.store.counts())["total"]
    _error(web.post("/jobs", raw=b"{not json"), 400, "JSON")
    _error(web.post("/jobs", raw=b"\xff\xfe"), 400, "JSON")
    _error(web.post("/jobs", raw=b"[" * 100_000), 413)
    chunked = iter([b"[" * 40_000, b"[" * 40_000])  # no Content-Length: counted as it arrives
    _error(web.post("/jobs", raw=chunked), 413)  # type: ignore[arg-type]
    _error(web.post("/jobs", raw=b"[" * 20_000 + b"]" * 20_000), 400)
    huge = {"session": SESSION, "message": "x" * 70_000, "run_at": "1h"}
    _error(web.post("/jobs", huge), 413, "KB")
    assert astrbot.run(astrbot.plugin.runtime.store.counts())["total"] == before


# ----- read --------------------------------------------------------------------------------


def test_unknown_ids_and_routes_are_404(web: Dashboard) -> None:
    _error(web.get("/jobs/zzzzzzzz"), 404)
    _error(web.patch("/jobs/zzzzzzzz", {"enabled": False}), 404)
    _error(web.delete("/jobs/zzzzzzzz"), 404)
    _error(web.post("/jobs/zzzzzzzz/run"), 404)
    _error(web.get("/jobs/zzzzzzzz/runs"), 404)
    _error(web.get("/nothing-here"), 404, "no route")
    _error(web.get("/jobs/a/b/c"), 404)
    _error(web.call("PUT", BASE + "/jobs", {}), 405, "GET")


def test_list_pagination_and_filters(web: Dashboard) -> None:
    tag = f"pagetag{int(time.time() * 1000)}"
    made = [web.create(message=f"{tag} number {i}", owner_id="7777") for i in range(5)]
    paused = made[0]["id"]
    assert web.patch(f"/jobs/{paused}", {"enabled": False}).status == 200

    everything = web.get(f"/jobs?q={tag}")
    assert everything.status == 200
    assert everything.body["total"] == 5 and len(everything.body["jobs"]) == 5
    assert everything.body["limit"] == 50 and everything.body["offset"] == 0

    first = web.get(f"/jobs?q={tag}&limit=2")
    second = web.get(f"/jobs?q={tag}&limit=2&offset=2")
    third = web.get(f"/jobs?q={tag}&limit=2&offset=4")
    ids = [j["id"] for r in (first, second, third) for j in r.body["jobs"]]
    assert [len(r.body["jobs"]) for r in (first, second, third)] == [2, 2, 1]
    assert sorted(ids) == sorted(j["id"] for j in made)
    assert all(r.body["total"] == 5 for r in (first, second, third))

    enabled = web.get(f"/jobs?q={tag}&enabled=true").body
    disabled = web.get(f"/jobs?q={tag}&enabled=false").body
    assert enabled["total"] == 4 and paused not in [j["id"] for j in enabled["jobs"]]
    assert [j["id"] for j in disabled["jobs"]] == [paused]

    mine = web.get(f"/jobs?q={tag}&owner=onebot:7777").body
    assert mine["total"] == 5
    assert web.get(f"/jobs?q={tag}&owner=onebot:7778").body["total"] == 0
    assert web.get("/jobs?limit=1000").body["limit"] == 200

    _error(web.get("/jobs?limit=abc"), 400, "limit")
    _error(web.get("/jobs?limit=0"), 400, "limit")
    _error(web.get("/jobs?offset=-1"), 400, "offset")
    _error(web.get("/jobs?enabled=maybe"), 400, "enabled")
    _error(web.get("/jobs?owner=nobody"), 400, "owner")


# ----- change ------------------------------------------------------------------------------


def test_patch_pause_resume_reschedule_and_fields(web: Dashboard) -> None:
    job = web.create(message="patch me", tz="Asia/Shanghai")
    path = f"/jobs/{job['id']}"

    paused = web.patch(path, {"enabled": False})
    assert paused.status == 200 and paused.body["job"]["enabled"] is False
    assert paused.body["job"]["next_run_at"] is None

    resumed = web.patch(path, {"enabled": True}).body["job"]
    assert resumed["enabled"] is True and resumed["next_run_at"]

    moved = web.patch(path, {"every": "3h", "tz": "America/New_York"}).body["job"]
    assert moved["schedule"]["kind"] == "every" and moved["schedule"]["every_ms"] == 10_800_000
    assert moved["schedule"]["tz"] == "America/New_York"
    assert moved["next_run_local"].endswith("(America/New_York)")

    edited = web.patch(
        path, {"message": "patched", "name": "renamed", "catch_up": "skip", "timeout_seconds": 60}
    ).body["job"]
    assert edited["message"] == "patched" and edited["name"] == "renamed"
    assert edited["catch_up"] == "skip" and edited["timeout_seconds"] == 60
    assert edited["owner"] == job["owner"]  # an edit never moves the job to the dashboard

    _error(web.patch(path, {"run_at": "not a time"}), 400)
    _error(web.patch(path, {"tz": "Nowhere/Atlantis"}), 400, "zone")
    _error(web.patch(path, {"enabled": "no"}), 400, "enabled")
    _error(web.patch(path, {"session": SESSION}), 400, "session")
    _error(web.patch(path, {}), 400, "nothing to change")
    _error(web.patch(path, raw=b"{oops"), 400, "JSON")
    after = web.get(path).body["job"]
    assert after["message"] == "patched" and after["schedule"]["every_ms"] == 10_800_000


def test_post_override_for_the_plugin_page_bridge(web: Dashboard) -> None:
    job = web.create(message="bridge")
    path = f"/jobs/{job['id']}"
    edited = web.post(path, {"_method": "PATCH", "enabled": False})
    assert edited.status == 200 and edited.body["job"]["enabled"] is False
    _error(web.post(path, {"enabled": True}), 405, "_method")
    _error(web.post(path, {"_method": "PUT"}), 400, "_method")
    gone = web.post(path, {"_method": "DELETE"})
    assert gone.status == 200 and gone.body["deleted"] == job["id"]
    _error(web.get(path), 404)


def test_delete(astrbot: AstrBot, web: Dashboard) -> None:
    job = web.create(message="delete me")
    reply = web.delete(f"/jobs/{job['id']}")
    assert reply.status == 200 and reply.body["deleted"] == job["id"]
    assert astrbot.run(astrbot.plugin.runtime.store.get_job(job["id"])) is None
    _error(web.get(f"/jobs/{job['id']}"), 404)
    _error(web.delete(f"/jobs/{job['id']}"), 404)


# ----- run now, history, status ------------------------------------------------------------


def test_run_now_delivers_and_the_run_appears(astrbot: AstrBot, web: Dashboard) -> None:
    mark = astrbot.onebot.mark()
    job = web.create(message="run from the web", owner_id=str(USER))
    started = web.post(f"/jobs/{job['id']}/run")
    assert started.status == 202 and started.body["job_id"] == job["id"], started
    run_id = started.body["run_id"]
    astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.text == "run from the web" and a.target == USER, timeout=15, since=mark
        )
    )
    deadline = time.monotonic() + 10
    while True:
        runs = web.get(f"/jobs/{job['id']}/runs")
        assert runs.status == 200
        done = [r for r in runs.body["runs"] if r["run_id"] == run_id and r["status"] != "running"]
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert runs.body["total"] == 1, runs.body
    run = runs.body["runs"][0]
    assert run["run_id"] == run_id and run["trigger"] == "manual"
    assert run["status"] == "ok" and run["delivery"] == "delivered"
    assert run["started_local"] and run["ended_at"] >= run["started_at"]

    assert web.get(f"/jobs/{job['id']}/runs?status=ok").body["total"] == 1
    assert web.get(f"/jobs/{job['id']}/runs?status=error").body["total"] == 0
    page = web.get(f"/jobs/{job['id']}/runs?limit=1&offset=1").body
    assert page["runs"] == [] and page["total"] == 1
    _error(web.get(f"/jobs/{job['id']}/runs?status=great"), 400, "status")
    _error(web.get(f"/jobs/{job['id']}/runs?limit=x"), 400, "limit")

    shown = web.get(f"/jobs/{job['id']}").body["job"]
    assert shown["last_status"] == "ok" and shown["last_run_at"] and shown["last_run_local"]


def test_run_now_while_running_is_409(astrbot: AstrBot, web: Dashboard) -> None:
    job = web.create(message="held", owner_id=str(USER))
    store = astrbot.plugin.runtime.store
    # Claim it the way the engine does when a run starts (and never finish that run).
    claimed = astrbot.run(store.claim_job(job["id"], int(time.time() * 1000), "manual"))
    assert claimed is not None
    try:
        assert web.get(f"/jobs/{job['id']}").body["job"]["running"] is True
        _error(web.post(f"/jobs/{job['id']}/run"), 409, "running")
    finally:
        web.delete(f"/jobs/{job['id']}")


def test_status(astrbot: AstrBot, web: Dashboard) -> None:
    web.create(message="status probe")
    reply = web.get("/status")
    assert reply.status == 200, reply
    status = reply.body
    assert status["enabled"] is True and status["timezone"] == "Asia/Shanghai"
    assert status["jobs"]["total"] >= 1 and set(status["jobs"]) >= {"enabled", "disabled"}
    assert status["next_wake_at"] and status["next_wake_iso"].endswith("+08:00")
    assert status["database_path"].endswith(".db")
    assert "last_error" in status and "off_reason" in status


def test_store_not_open_is_503(astrbot: AstrBot, web: Dashboard) -> None:
    runtime = astrbot.plugin.runtime
    runtime.error = "simulated: cannot open the database"
    try:
        _error(web.get("/jobs"), 503, "simulated")
        _error(web.get("/status"), 503)
        _error(web.post("/jobs", {"session": SESSION, "message": "x", "run_at": "1h"}), 503)
    finally:
        runtime.error = None
    assert web.get("/status").status == 200
