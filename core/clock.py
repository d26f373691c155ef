"""Time as the engine sees it: a clock it is given, so tests can run months in milliseconds."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock time, UTC milliseconds."""

    async def wait(self, event: asyncio.Event, timeout_ms: int) -> None:
        """Return when ``event`` is set or ``timeout_ms`` have passed, whichever is first."""


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def wait(self, event: asyncio.Event, timeout_ms: int) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(timeout_ms, 0) / 1000)


class FakeClock:
    """A clock that moves only when told to; waiters wake when it passes their deadline."""

    def __init__(self, start_ms: int) -> None:
        self._now = start_ms
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now_ms(self) -> int:
        return self._now

    def set(self, at_ms: int) -> None:
        """Jump to ``at_ms`` (also backwards, like a corrected system clock)."""
        self._now = at_ms
        while self._sleepers and self._sleepers[0][0] <= at_ms:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def deadlines(self) -> list[int]:
        """When the current waiters will wake, soonest first (what a timer is armed for)."""
        return sorted(d for d, _, f in self._sleepers if not f.done())

    def advance(self, ms: int) -> None:
        self.set(self._now + ms)

    async def wait(self, event: asyncio.Event, timeout_ms: int) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + timeout_ms, next(self._order), future))
        waiter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({future, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not future.done():
                future.cancel()
