"""Faults beyond crashes, at the engine and the service: another program locking the
database, a disk that cannot take another byte, and the system clock jumping an hour
forward and an hour back. The real store on a real file; a fake clock.

The same faults under the real AstrBot (a corrupt file at boot, a full and a read-only
disk, the platform refusing to send, the model failing or hanging) are in
``tests/integration/test_faults.py``.
"""

from __future__ import annotations

import contextlib
import json
import resource
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import StoreUnavailable

from .conftest import ALICE, World, at, make_world, until

REPO_ROOT = Path(__file__).resolve().parents[2]
SHORT_BUSY_MS = 200
"""The store's busy timeout in these tests (the plugin waits 5 s for a lock)."""

LOCK_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
db.rollback()
"""


@contextlib.contextmanager
def locked_by_another_process(path: Path) -> Iterator[None]:
    """Another process holds SQLite's exclusive lock on ``path`` until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)


async def timer_idle(world: World) -> None:
    """The timer loop has done what the clock allows and sleeps again."""
    await until(lambda: bool(world.clock.deadlines()))
    await world.engine.drain()
    await until(lambda: bool(world.clock.deadlines()))


@pytest.fixture
async def new_world(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[World]]]:
    """``await new_world(**options)``: a world at 2026-01-05 09:00 that is stopped and
    closed after the test, even a failing one (a timer left running would hang it)."""
    made: list[World] = []

    async def make(**options: Any) -> World:
        made.append(await make_world(tmp_path / "t.db", at("2026-01-05 09:00"), **options))
        return made[-1]

    yield make
    for world in made:
        await world.engine.stop()
        await world.store.close()


def integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


# ----- another program holds the lock -------------------------------------------------


async def test_a_database_locked_by_another_program_delays_a_run_and_loses_nothing(
    new_world: Callable[..., Awaitable[World]],
) -> None:
    world = await new_world(busy_timeout_ms=SHORT_BUSY_MS)
    tea = await world.create(message="tea", run_at="5m")
    await world.create(message="hourly", every="1h")
    await world.engine.stop()
    await world.engine.start(timer=True)
    await timer_idle(world)

    with locked_by_another_process(world.store.path):
        world.clock.set(tea.next_run_at or 0)
        await until(lambda: (world.engine.last_error or "").startswith("timer:"))
        assert "locked" in (world.engine.last_error or "")
        assert world.executor.runs == []  # nothing runs that could not be claimed
        status = await world.service.status()
        assert "locked" in status["last_error"]
        with pytest.raises(StoreUnavailable, match=r"locked by another program.*nothing was"):
            await world.create(message="refused", run_at="10m")
        listed = await world.service.list(ALICE)  # readers are not blocked (WAL)
        assert sorted(j.payload.message for j in listed.jobs) == ["hourly", "tea"]

    world.clock.advance(1_000)  # the timer tries again a second later
    await until(lambda: len(world.executor.ran(tea.id)) == 1)
    await timer_idle(world)
    assert world.engine.last_error is None
    runs, _ = await world.store.runs_for(tea.id)
    assert [(r.status.value, r.delivery.value) for r in runs] == [("ok", "delivered")]
    assert await world.job(tea.id) is None  # the one-shot is done
    counts = await world.store.counts()
    assert counts["total"] == 1  # the refused create wrote nothing
    await world.create(message="after", run_at="10m")  # and writing works again
    assert integrity(world.store.path) == "ok"


# ----- the disk takes no more bytes ---------------------------------------------------


async def disk_full_scenario(directory: str) -> dict[str, Any]:
    """Run in a child process: its file-size limit (RLIMIT_FSIZE) is lowered so that the
    database's write-ahead log cannot grow, as on a full disk, and raised again later."""
    path = Path(directory) / "t.db"
    world = await make_world(path, at("2026-01-05 09:00"))
    tea = await world.create(message="tea", run_at="5m")
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the log starts empty
    seen: dict[str, Any] = {}
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error from write(), not a signal
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        try:
            await world.create(message="refused", run_at="10m")
            seen["create"] = "stored"
        except StoreUnavailable as exc:
            seen["create"] = str(exc)
        world.clock.set(tea.next_run_at or 0)
        try:
            await world.engine.tick()
            seen["tick"] = "ticked"
        except sqlite3.Error as exc:
            seen["tick"] = f"{type(exc).__name__}: {exc}"
        seen["runs_while_full"] = len(world.executor.runs)
        seen["listed_while_full"] = (await world.service.list(ALICE)).total
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space is freed
    world.clock.advance(1_000)
    await world.engine.tick()
    await world.engine.drain()
    seen["tea_runs"] = len(world.executor.ran(tea.id))
    seen["tea_left"] = await world.job(tea.id) is not None
    runs, _ = await world.store.runs_for(tea.id)
    seen["tea_history"] = [(r.status.value, r.delivery.value) for r in runs]
    await world.create(message="after", run_at="10m")
    seen["jobs_after"] = (await world.store.counts())["total"]
    await world.engine.stop()
    await world.store.close()
    seen["integrity"] = integrity(path)
    return seen


def test_a_full_disk_refuses_writes_clearly_and_loses_nothing(tmp_path: Path) -> None:
    code = (
        "import asyncio, json, sys\n"
        "from tests.unit.test_faults import disk_full_scenario\n"
        "print(json.dumps(asyncio.run(disk_full_scenario(sys.argv[1]))))\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    seen = json.loads(child.stdout.strip().splitlines()[-1])
    assert "nothing was changed" in seen["create"], seen
    assert seen["tick"] != "ticked" and "OperationalError" in seen["tick"], seen
    assert seen["runs_while_full"] == 0 and seen["listed_while_full"] == 1, seen
    assert seen["tea_runs"] == 1 and not seen["tea_left"], seen
    assert seen["tea_history"] == [["ok", "delivered"]], seen
    assert seen["jobs_after"] == 1 and seen["integrity"] == "ok", seen


# ----- the system clock jumps -----------------------------------------------------------


async def test_the_clock_jumping_an_hour_forward_then_back_runs_each_slot_once(
    new_world: Callable[..., Awaitable[World]],
) -> None:
    world = await new_world()
    half = await world.create(message="half-hourly", every="30m")  # 09:30, 10:00
    hourly = await world.create(message="hourly", cron="0 * * * *")  # 10:00, 11:00, ...
    once = await world.create(message="once", run_at="20m")  # 09:20
    await world.engine.stop()
    await world.engine.start(timer=True)
    await timer_idle(world)

    world.clock.set(at("2026-01-05 10:05"))  # forward: 09:20, 09:30, 10:00 passed unseen
    await until(lambda: len(world.executor.runs) == 3)
    await timer_idle(world)
    first = {jid: ctx for jid, ctx, _ in world.executor.runs}
    assert first[once.id].slot_at == at("2026-01-05 09:20") and first[once.id].late
    assert first[half.id].slot_at == at("2026-01-05 10:00")  # the latest missed slot, once
    assert first[hourly.id].slot_at == at("2026-01-05 10:00")
    half_runs, _ = await world.store.runs_for(half.id)
    assert Counter(r.status.value for r in half_runs) == {"ok": 1, "missed": 1}  # 09:30
    # A late interval run re-anchors its grid at its start (the full interval follows).
    assert (await world.job(half.id)).next_run_at == at("2026-01-05 10:35")  # type: ignore[union-attr]

    world.clock.set(at("2026-01-05 09:05"))  # back: 09:30 and 10:00 come round again
    minute = 60_000
    for step in range(1, 117):  # minute by minute to 11:01
        world.clock.set(at("2026-01-05 09:05") + step * minute)
        await timer_idle(world)
    slots = Counter((jid, ctx.slot_at) for jid, ctx, _ in world.executor.runs)
    assert max(slots.values()) == 1, slots  # no slot ran twice
    assert sorted(slots) == sorted(
        [
            (once.id, at("2026-01-05 09:20")),
            (half.id, at("2026-01-05 10:00")),
            (half.id, at("2026-01-05 10:35")),
            (hourly.id, at("2026-01-05 10:00")),
            (hourly.id, at("2026-01-05 11:00")),
        ]
    )
