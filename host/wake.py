"""What ``/cron wake`` may do: the same gates as creating a task, plus a cap on events.

A wake is an agent turn without a job, so it is held to what a member's task is held to:
``allow_members``, the message length limit, the agent-run concurrency slots and the
agent timeout; and, since nothing else would bound it, at most ``wake_queue_per_owner``
events of one user and ``wake_queue_total`` in all may be waiting or running at once
(events queued for the next heartbeat included; those are kept per chat, so in a group
the chat's queued events count toward each member's cap). Admins pass the caps, not the slots
or the timeout.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..core.service import Actor
from ..core.settings import Settings
from ..core.store import Store


class WakeGate:
    def __init__(self, settings: Settings, store: Store, slots: asyncio.Semaphore) -> None:
        self.settings = settings
        self.store = store
        self.slots = slots
        self._running: Counter[str] = Counter()  # wakes in flight, by owner key

    async def refusal(self, actor: Actor, text: str) -> str | None:
        """Why this wake may not happen now (None: it may)."""
        if not self.settings.allow_members and not actor.is_admin:
            return (
                "only admins may wake the agent here (allow_members is off); "
                "ask an admin to do it for you"
            )
        text = text.strip()
        if not text:
            return "say what the event is: /cron wake <text>"
        if len(text) > self.settings.max_message_chars:
            return (
                f"the event has {len(text)} characters, the limit is "
                f"{self.settings.max_message_chars}; shorten it"
            )
        if actor.is_admin:
            return None
        mine = self._running[actor.key] + await self._pending(actor.origin)
        if mine >= self.settings.wake_queue_per_owner:
            return (
                f"{mine} wake events are already waiting or running for you here, the limit "
                f"is {self.settings.wake_queue_per_owner}; wait until they are handled"
            )
        total = sum(self._running.values()) + await self._pending(None)
        if total >= self.settings.wake_queue_total:
            return "too many wake events are waiting or running right now; try again later"
        return None

    @asynccontextmanager
    async def running(self, actor: Actor) -> AsyncIterator[None]:
        """Hold one of the agent-run slots (and count the wake) while it runs."""
        self._running[actor.key] += 1
        try:
            async with self.slots:
                yield
        finally:
            self._running[actor.key] -= 1
            if self._running[actor.key] <= 0:
                del self._running[actor.key]

    async def _pending(self, origin: str | None) -> int:
        """Wake events queued for the next heartbeat (those not from a job)."""
        sql = "SELECT count(*) FROM pending_events WHERE job_id IS NULL"
        params: tuple[str, ...] = ()
        if origin is not None:
            sql += " AND owner_origin=?"
            params = (origin,)
        async with self.store.db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0
