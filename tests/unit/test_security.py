"""The pure parts of the security model (SPEC §7): the file rule, the rate limiter, the
chat-safe failure text and the members' limits in the service."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from core.chat_safe import chat_safe
from core.errors import PermissionDenied, StoreError, UserError
from core.ratelimit import HOUR_MS, MINUTE_MS, Limit, SlidingWindows, admits, free_at
from core.service import JobChanges, JobSpec, TaskService
from core.store import APPLICATION_ID, Store
from host.file_access import MediaAccess, MediaRefused

from .conftest import ADMIN, ALICE, World, make_world

# ----- the file rule --------------------------------------------------------------------


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """A workspace, a temp folder, a secret outside both and a symlink pointing out."""
    workspace = tmp_path / "data" / "workspaces" / "qq_GroupMessage_5"
    temp = tmp_path / "data" / "temp"
    for folder in (workspace, temp):
        folder.mkdir(parents=True)
    secret = tmp_path / "data" / "cmd_config.json"
    secret.write_text('{"key": "sk-secret"}')
    (workspace / "chart.png").write_bytes(b"png")
    (temp / "report.pdf").write_bytes(b"pdf")
    os.symlink(secret, workspace / "innocent.png")
    return {"workspace": workspace, "temp": temp, "secret": secret, "root": tmp_path}


def member(places: dict[str, Path], anywhere: bool = False) -> MediaAccess:
    roots = (places["workspace"].resolve(), places["temp"].resolve())
    return MediaAccess("member", places["workspace"].resolve(), roots, anywhere=anywhere)


def test_a_member_sends_files_from_the_workspace_and_temp(places: dict[str, Path]) -> None:
    access = member(places)
    assert access.check("chart.png") == str((places["workspace"] / "chart.png").resolve())
    assert access.check(str(places["temp"] / "report.pdf")).endswith("report.pdf")
    assert access.check("https://example.invalid/a.png") == "https://example.invalid/a.png"


@pytest.mark.parametrize(
    "attempt",
    [
        "{secret}",  # absolute path to the host's config
        "../../cmd_config.json",  # .. out of the workspace
        "{workspace}/../../cmd_config.json",
        "innocent.png",  # a symlink inside the workspace pointing out
        "/etc/passwd",
        "~/.bashrc",
        "{root}/no/such/file",  # a missing file outside is refused the same way
    ],
)
def test_a_member_can_not_send_a_file_outside_the_allowed_places(
    places: dict[str, Path], attempt: str
) -> None:
    path = attempt.format(**{k: str(v) for k, v in places.items()})
    with pytest.raises(MediaRefused) as refused:
        member(places).check(path)
    text = str(refused.value)
    assert "outside the places" in text and str(places["temp"].resolve()) in text
    assert "no such file" not in text  # never says whether the refused path exists


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x/y.png", "base64://AAAA"])
def test_only_http_urls_are_accepted(places: dict[str, Path], url: str) -> None:
    with pytest.raises(MediaRefused, match="http"):
        member(places).check(url)


def test_a_missing_file_inside_the_allowed_places_is_named_missing(
    places: dict[str, Path],
) -> None:
    with pytest.raises(MediaRefused, match="no such file"):
        member(places).check("missing.png")


def test_the_host_scope_sends_any_readable_file(places: dict[str, Path]) -> None:
    access = member(places, anywhere=True)
    assert access.check(str(places["secret"])) == str(places["secret"].resolve())


# ----- the rate limiter -----------------------------------------------------------------

PER_MINUTE = Limit(2, MINUTE_MS, "2 per minute")
PER_HOUR = Limit(3, HOUR_MS, "3 per hour")


def test_admits_counts_only_the_events_inside_the_window() -> None:
    assert admits([0, 1_000], PER_MINUTE, 30_000) is False
    assert admits([0, 1_000], PER_MINUTE, 60_001) is True
    assert free_at([0, 1_000], PER_MINUTE, 30_000) == 60_001
    assert admits([0] * 100, Limit(0, MINUTE_MS, "off"), 1) is True


def test_sliding_windows_hold_every_limit_and_count_nothing_on_refusal() -> None:
    windows = SlidingWindows()
    checks = [("owner", PER_HOUR), ("chat", PER_MINUTE)]
    assert windows.take(checks, 0) is None
    assert windows.take(checks, 1) is None
    assert windows.take(checks, 2) is PER_MINUTE  # third in a minute
    assert windows.count("owner", PER_HOUR, 2) == 2  # the refusal was not counted
    assert windows.take(checks, MINUTE_MS + 5) is None
    assert windows.take(checks, 2 * MINUTE_MS + 5) is PER_HOUR  # fourth in an hour
    assert windows.take(checks, HOUR_MS + 2) is None  # the first ones left the window


def test_sliding_windows_forget_what_left_the_longest_window() -> None:
    windows = SlidingWindows()
    for i in range(1000):
        windows.take([(f"k{i}", PER_MINUTE)], i)
    windows.take([("k0", PER_MINUTE)], 10 * HOUR_MS)
    assert len(windows._times) == 1000  # untouched keys are dropped when next read
    assert windows.count("k1", PER_MINUTE, 10 * HOUR_MS) == 0
    assert "k1" not in windows._times


# ----- what members read in chat --------------------------------------------------------


def test_chat_safe_text_is_one_line_without_server_details() -> None:
    raw = (
        "the model failed: APIConnectionError: Connection error to "
        "https://api.example.com/v1/chat?key=1 (sk-abcdef1234567890abcdef) at 10.0.0.3:8080 "
        "api.deepseek.com reading /srv/astrbot/data/cmd_config.json\n"
        'Traceback (most recent call last):\n  File "/x/y.py", line 3, in f\n    boom()'
    )
    safe = chat_safe(raw)
    assert "\n" not in safe and safe.startswith("the model failed: APIConnectionError")
    for leak in ("https", "api.example", "sk-", "10.0.0.3", "deepseek", "/srv", "Traceback"):
        assert leak not in safe
    assert len(chat_safe("x" * 1000 + " y")) <= 200


# ----- members' limits in the service ---------------------------------------------------


async def test_members_may_not_choose_the_model_or_a_long_timeout(world: World) -> None:
    with pytest.raises(PermissionDenied, match="model"):
        await world.create(ALICE, message="x", when="1h", mode="isolated", provider_id="gpt")
    with pytest.raises(PermissionDenied, match="600"):
        await world.create(ALICE, message="x", when="1h", mode="isolated", timeout_seconds=601)
    short = await world.create(ALICE, message="x", when="1h", mode="isolated", timeout_seconds=30)
    assert short.payload.timeout_seconds == 30
    with pytest.raises(PermissionDenied, match="catch_up: all is for admins"):
        await world.create(ALICE, message="x", every="1h", catch_up="all")
    with pytest.raises(PermissionDenied, match="model"):
        await world.service.edit(ALICE, short.id, JobChanges(provider_id="gpt"))
    job = await world.create(ADMIN, message="x", when="1h", mode="isolated", provider_id="gpt")
    assert job.payload.provider_id == "gpt"


async def test_a_default_catch_up_of_all_becomes_once_for_members(world: World) -> None:
    world.settings.catch_up_default = "all"
    assert (await world.create(ALICE, message="x", every="1h")).catch_up.value == "once"
    assert (await world.create(ADMIN, message="x", every="1h")).catch_up.value == "all"


async def test_a_model_is_checked_against_the_loaded_providers_at_creation(
    world: World,
) -> None:
    service = TaskService(world.store, world.engine, world.settings, provider_ids=lambda: ["a/b"])
    with pytest.raises(UserError, match="not a chat provider loaded in AstrBot; use one of: a/b"):
        await service.create(ADMIN, _spec(provider_id="gpt-9"))
    assert (await service.create(ADMIN, _spec(provider_id="a/b"))).payload.provider_id == "a/b"


async def test_one_shots_count_toward_a_creation_rate_per_member(tmp_path: Path) -> None:
    world = await make_world(tmp_path / "t.db", 0, create_limit_per_owner_per_hour=3)
    try:
        for _ in range(3):
            await world.create(ALICE, message="x", when="1m")
        with pytest.raises(PermissionDenied, match="3 tasks in the last hour"):
            await world.create(ALICE, message="x", when="1m")
        await world.create(ADMIN, message="admins are exempt", when="1m")
        world.clock.advance(HOUR_MS + 1)
        await world.create(ALICE, message="x", when="1m")
    finally:
        await world.engine.stop()
        await world.store.close()


async def test_media_given_at_creation_goes_through_the_hosts_check(world: World) -> None:
    seen: list[tuple[str, str, list[str]]] = []

    def check(origin: str, sender: str, media: list[str]) -> None:
        seen.append((origin, sender, media))
        raise UserError("outside the places this task may send files from")

    service = TaskService(world.store, world.engine, world.settings, check_media=check)
    with pytest.raises(UserError, match="outside the places"):
        await service.create(ALICE, _spec(media=["/etc/passwd"]))
    assert seen == [(ALICE.origin, ALICE.sender_id, ["/etc/passwd"])]
    assert await world.store.count_jobs() == 0


def _spec(**fields: object) -> JobSpec:
    return JobSpec(message="x", when="1h", mode="isolated", **fields)  # type: ignore[arg-type]


# ----- database_path: only this plugin's SQLite files -----------------------------------


async def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, secret TEXT)")
        conn.execute("INSERT INTO accounts VALUES (1, 'x')")
    before = path.read_bytes()
    store = Store(path)
    with pytest.raises(StoreError, match=r"another program.*left untouched"):
        await store.open()
    assert path.read_bytes() == before
    assert not path.with_name("other.db-wal").exists()


async def test_a_sqlite_file_marked_by_another_application_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "marked.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id=1234")
        conn.execute("CREATE TABLE jobs (id TEXT)")
        conn.execute("CREATE TABLE runs (id TEXT)")
        conn.execute("PRAGMA user_version=1")
    with pytest.raises(StoreError, match="another program"):
        await Store(path).open()


async def test_a_plugin_database_without_the_mark_opens_and_is_marked(tmp_path: Path) -> None:
    path = tmp_path / "tasks.db"
    store = Store(path)
    await store.open()
    await store.db.execute("PRAGMA application_id=0")  # as an older plugin version left it
    await store.close()
    store = Store(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
