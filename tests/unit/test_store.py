"""The store: never replaces a database it cannot read, migrates with a backup, and
serves the hot queries from the due index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.clock import FakeClock
from core.engine import Engine
from core.errors import StoreError
from core.migrations import SCHEMA_VERSION
from core.models import Job, Owner, Payload, Schedule, ScheduleKind, Trigger
from core.policy import Claimed, transition
from core.settings import Settings
from core.store import Store

from .conftest import ADMIN, ScriptedExecutor, World, at, make_world


@pytest.mark.parametrize(
    "content",
    [
        b"this is not a database at all\n" * 100,
        b"SQLite format 3\x00" + b"\xff" * 4080,  # a header, then garbage
    ],
)
async def test_corrupt_database_is_left_untouched_and_refused(tmp_path: Path, content: bytes):
    path = tmp_path / "tasks.db"
    path.write_bytes(content)
    store = Store(path)
    with pytest.raises(StoreError, match="left untouched"):
        await store.open()
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tasks.db"]  # no -wal, no backup


async def _damaged_database(tmp_path: Path) -> Path:
    """A cleanly closed database of 40 jobs with one b-tree page header scribbled over."""
    world = await make_world(tmp_path / "tasks.db", at("2026-01-05 09:00"))
    for _ in range(40):
        await world.create(ADMIN, message="x" * 2000, every="1h")
    await world.engine.stop()
    await world.store.close()
    path = tmp_path / "tasks.db"
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 3 * page
    data[2 * page : 2 * page + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    return path


async def test_a_damaged_page_fails_the_integrity_check(tmp_path: Path):
    path = await _damaged_database(tmp_path)
    before = path.read_bytes()
    with pytest.raises(StoreError):
        await Store(path).open()
    assert path.read_bytes() == before


async def test_the_scheduler_refuses_to_start_on_a_corrupt_file(tmp_path: Path):
    """What the plugin does: the store fails to open, nothing starts, the error is kept."""
    path = tmp_path / "tasks.db"
    path.write_bytes(b"garbage" * 1000)
    store = Store(path)
    try:
        await store.open()
    except StoreError as exc:
        message = str(exc)
    assert "cannot be read" in message and str(path) in message
    with pytest.raises(StoreError, match="not open"):
        await Engine(store, ScriptedExecutor(None), Settings()).start(timer=False)  # type: ignore[arg-type]


async def test_newer_schema_is_refused_untouched(tmp_path: Path):
    path = tmp_path / "tasks.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
        db.execute("CREATE TABLE future (x)")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer"):
        await Store(path).open()
    assert path.read_bytes() == before


async def test_upgrade_backs_the_file_up_first(tmp_path: Path, monkeypatch):
    import core.migrations as migrations
    import core.store as store_module

    path = tmp_path / "tasks.db"
    store = Store(path)
    await store.open()
    await store.close()
    upgraded = {**migrations.MIGRATIONS, SCHEMA_VERSION + 1: ["ALTER TABLE jobs ADD note TEXT"]}
    monkeypatch.setattr(store_module, "MIGRATIONS", upgraded)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    store = Store(path)
    await store.open()
    backup = tmp_path / f"tasks.db.v{SCHEMA_VERSION}.bak"
    assert backup.exists()
    with sqlite3.connect(backup) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    row = await store._fetchone("PRAGMA user_version")
    assert row[0] == SCHEMA_VERSION + 1
    await store.close()


async def test_wal_mode_and_due_queries_use_the_index(world: World):
    mode = await world.store._fetchone("PRAGMA journal_mode")
    assert mode[0] == "wal"
    for sql, params in [
        (
            "SELECT next_run_at FROM jobs INDEXED BY jobs_due WHERE enabled=1 AND "
            "next_run_at IS NOT NULL AND running_run_id IS NULL ORDER BY next_run_at LIMIT 1",
            (),
        ),
        (
            "SELECT id FROM jobs INDEXED BY jobs_due WHERE enabled=1 AND next_run_at <= ? "
            "AND running_run_id IS NULL ORDER BY next_run_at LIMIT 500",
            (0,),
        ),
    ]:
        plan = await world.store._fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
        text = " ".join(str(r[-1]) for r in plan)
        assert "jobs_due" in text and "SCAN jobs" not in text.replace("USING INDEX", ""), text


async def test_run_history_is_pruned_per_job(tmp_path: Path):
    world = await make_world(tmp_path / "t.db", at("2026-01-05 09:00"), run_history_keep=5)
    a = await world.create(message="a", every="1m")
    b = await world.create(message="b", every="5m")
    for minute in range(1, 13):
        await world.at_time(at("2026-01-05 09:00") + minute * 60_000)
    runs_a, total_a = await world.store.runs_for(a.id, limit=100)
    _, total_b = await world.store.runs_for(b.id, limit=100)
    assert total_a == 5 and total_b == 2
    assert runs_a[0].started_at == at("2026-01-05 09:12")  # the newest kept
    await world.store.close()


async def test_routes_and_pending_events_round_trip(world: World):
    await world.store.set_route("qq:1001", "qq:GroupMessage:5", 1)
    await world.store.set_route("qq:1001", "qq:FriendMessage:1001", 2)
    assert await world.store.get_route("qq:1001") == "qq:FriendMessage:1001"
    await world.store.add_pending_event("qq:FriendMessage:1001", None, "first", 1)
    await world.store.add_pending_event("qq:FriendMessage:1001", None, "second", 2)
    assert await world.store.origins_with_pending_events() == ["qq:FriendMessage:1001"]
    assert await world.store.take_pending_events("qq:FriendMessage:1001") == ["first", "second"]
    assert await world.store.take_pending_events("qq:FriendMessage:1001") == []


async def test_a_large_file_is_checked_beside_the_running_scheduler(tmp_path: Path, monkeypatch):
    """Above SYNC_CHECK_MAX_BYTES the check runs aside; a damaged file then stops firing."""
    import core.store as store_module

    path = await _damaged_database(tmp_path)
    monkeypatch.setattr(store_module, "SYNC_CHECK_MAX_BYTES", 0)
    store = Store(path)
    await store.open()  # the big-file path: opened, the check still to come
    assert store.integrity_pending
    clock = FakeClock(at("2026-01-05 09:00"))  # nothing overdue: nothing read yet
    engine = Engine(store, ScriptedExecutor(clock), Settings(), clock=clock)
    await engine.start(timer=False)
    await engine._verifier
    assert not engine.started and "integrity check" in engine.off_reason
    assert "integrity check" in engine.last_error
    await store.close()


async def test_a_damaged_file_found_while_starting_stops_the_scheduler(tmp_path: Path):
    path = await _damaged_database(tmp_path)
    store = Store(path)
    await store.open(integrity_check=False)  # as if the check had not run yet
    clock = FakeClock(at("2026-01-06 09:00"))  # every job overdue: catch-up reads them all
    engine = Engine(store, ScriptedExecutor(clock), Settings(), clock=clock)
    with pytest.raises(StoreError, match="cannot be used"):
        await engine.start(timer=False)
    assert not engine.started and engine.off_reason.startswith("database error")
    await store.close()


async def test_a_version_2_database_gains_versions_and_keeps_its_jobs(tmp_path: Path):
    """Migration 3 (the version column of the one checked writer) on a file made by the
    previous release: backed up first, every job kept and loadable, versions start at 0."""
    import core.migrations as migrations

    path = tmp_path / "tasks.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")  # as every file the plugin made
        for version in (1, 2):
            for statement in migrations.MIGRATIONS[version]:
                db.execute(statement)
        body = Job(
            id="old1",
            owner=Owner(origin="qq:FriendMessage:1", sender_id="1"),
            schedule=Schedule(kind=ScheduleKind.AT, at_ms=5_000),
            payload=Payload(message="hi"),
            created_at=1,
            updated_at=1,
        ).model_dump_json()
        db.execute(
            "INSERT INTO jobs (id, owner_origin, owner_key, body, enabled, next_run_at, "
            "next_slot_at, created_at, updated_at) VALUES ('old1', 'qq:FriendMessage:1', "
            "'qq:1', ?, 1, 5000, 5000, 1, 1)",
            (body,),
        )
        db.execute("PRAGMA user_version=2")
    db.close()
    store = Store(path)
    await store.open()
    try:
        assert (tmp_path / "tasks.db.v2.bak").exists()
        job = await store.get_job("old1")
        assert job is not None and job.version == 0 and job.next_run_at == 5_000
        assert await store.set_aside_jobs() == []
    finally:
        await store.close()


async def test_the_claim_sql_follows_the_claimed_transition(world: World):
    """Claims are written in SQL for speed; they must do what ``transition`` says."""
    due = await world.create(message="due", cron="0 * * * *")
    later = await world.create(message="later", cron="30 * * * *")
    now = at("2026-01-05 10:00")
    for job, trigger in ((due, Trigger.MANUAL), (later, Trigger.MANUAL)):
        before = await world.job(job.id)
        claimed = await world.store.claim_job(job.id, now, trigger)
        assert before is not None and claimed is not None
        rule = transition(before, Claimed(trigger, claimed.running_run_id or ""), now, Settings())
        assert (claimed.running_slot_at, claimed.next_run_at) == (
            rule.job.running_slot_at,
            rule.job.next_run_at,
        )
        assert claimed.version == before.version + 1
    daily = await world.create(message="daily", cron="0 11 * * *")
    (timer,) = (await world.store.claim_due(at("2026-01-05 11:00"), 10)).jobs
    assert timer.id == daily.id and timer.running_slot_at == at("2026-01-05 11:00")
