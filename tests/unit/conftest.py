"""Fixtures for the engine's unit tests: a fake clock, a real store in a temp dir, and
an executor whose behaviour each test scripts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from core.clock import FakeClock
from core.engine import Engine, RunContext
from core.models import Delivery, Job, Owner, RunStatus
from core.policy import Outcome
from core.schedule import local_to_ms
from core.service import Actor, JobSpec, TaskService
from core.settings import Settings
from core.store import Store

ALICE = Actor(origin="qq:FriendMessage:1001", sender_id="1001", sender_name="alice")
BOB = Actor(origin="qq:FriendMessage:2002", sender_id="2002", sender_name="bob")
ADMIN = Actor(origin="qq:FriendMessage:9", sender_id="9", is_admin=True)


def at(text: str, tz: str = "UTC") -> int:
    """``at("2026-03-08 09:14")``: a local wall time in ``tz`` as UTC milliseconds."""
    return local_to_ms(datetime.fromisoformat(text), tz)


@dataclass
class ScriptedExecutor:
    """Records every run; ``behave`` decides each outcome (default: delivered, ok)."""

    clock: FakeClock
    runs: list[tuple[str, RunContext, int]] = field(default_factory=list)
    behave: Callable[[Job, RunContext], Outcome] | None = None
    holds: dict[str, asyncio.Event] = field(default_factory=dict)  # by job id or mode
    active: dict[str, int] = field(default_factory=dict)  # runs going now, by mode
    peak_active: dict[str, int] = field(default_factory=dict)  # most runs at once, by mode

    async def execute(self, job: Job, run: RunContext) -> Outcome:
        self.runs.append((job.id, run, self.clock.now_ms()))
        mode = job.payload.mode.value
        self.active[mode] = self.active.get(mode, 0) + 1
        self.peak_active[mode] = max(self.peak_active.get(mode, 0), self.active[mode])
        try:
            hold = self.holds.get(job.id) or self.holds.get(mode)
            if hold is not None:
                await hold.wait()
        finally:
            self.active[mode] -= 1
        if self.behave is not None:
            return self.behave(job, run)
        run.mark_delivered()
        return Outcome(RunStatus.OK, Delivery.DELIVERED, output=job.payload.message)

    def ran(self, job_id: str) -> list[RunContext]:
        return [ctx for jid, ctx, _ in self.runs if jid == job_id]


@dataclass
class World:
    """A store, an engine, a service and the fake clock that drives them."""

    clock: FakeClock
    store: Store
    engine: Engine
    service: TaskService
    executor: ScriptedExecutor
    settings: Settings
    alerts: list[tuple[str, str]]

    async def at_time(self, when_ms: int) -> int:
        """Move the clock, fire what is due, and wait until every outcome is recorded."""
        self.clock.set(when_ms)
        started = await self.engine.tick()
        await self.engine.drain()
        return started

    async def create(self, actor: Actor = ALICE, **fields: object) -> Job:
        return await self.service.create(actor, JobSpec(**fields))  # type: ignore[arg-type]

    async def job(self, job_id: str) -> Job | None:
        return await self.store.get_job(job_id)

    async def restart(self, down_until_ms: int | None = None, *, settle: bool = True) -> None:
        """Stop (like a crash: no orderly drain), move the clock, start a new engine."""
        for task in (self.engine._applier, self.engine._timer):
            if task is not None:
                task.cancel()
        await self.store.close()
        if down_until_ms is not None:
            self.clock.set(down_until_ms)
        self.store = Store(self.store.path, busy_timeout_ms=self.store.busy_timeout_ms)
        await self.store.open()
        self.engine = _engine(self.store, self.executor, self.settings, self.clock, self.alerts)
        self.service = TaskService(self.store, self.engine, self.settings)
        await self.engine.start(timer=False)
        await self.engine.tick()  # what the timer does first
        if settle:
            await self.engine.drain()


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait (in real time: the store works in a thread) until ``condition`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "timed out waiting for the engine"
        await asyncio.sleep(0.002)


def _engine(store, executor, settings, clock, alerts) -> Engine:
    async def alert(owner: Owner, text: str) -> None:
        alerts.append((owner.origin, text))

    return Engine(store, executor, settings, clock=clock, alert=alert)


async def make_world(
    path: Path, start_ms: int, *, busy_timeout_ms: int = 5000, **settings: object
) -> World:
    clock = FakeClock(start_ms)
    cfg = Settings(**settings)  # type: ignore[arg-type]
    store = Store(path, busy_timeout_ms=busy_timeout_ms)
    await store.open()
    executor = ScriptedExecutor(clock)
    alerts: list[tuple[str, str]] = []
    engine = _engine(store, executor, cfg, clock, alerts)
    await engine.start(timer=False)
    return World(clock, store, engine, TaskService(store, engine, cfg), executor, cfg, alerts)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await make_world(tmp_path / "tasks.db", at("2026-01-05 09:00"))
    yield w
    await w.engine.stop()
    await w.store.close()
