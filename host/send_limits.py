"""The flood guard: how many scheduled messages an owner, and a chat, may receive.

A member's tasks together may send at most ``send_limit_per_owner_per_hour`` runs' worth
of messages per hour, and any one chat receives at most ``send_limit_per_chat_per_minute``
scheduled runs per minute from members' tasks. Admins' tasks are exempt. Each run that
would deliver counts once (a run itself sends at most ``max_messages_per_run``).

A run over a limit is not dropped: it is recorded as an error whose text starts with
``rate-limited:`` and delivery ``not-delivered`` (a one-shot is retried like any transient
failure), and the owner is told once (at most once an hour, however many runs it stops).

The counts live in memory (see ``core/ratelimit.py`` for why); a restart forgets them,
so after a restart a member can at most send one more window's worth.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.models import Job
from ..core.ratelimit import HOUR_MS, MINUTE_MS, Limit, SlidingWindows
from ..core.settings import Settings
from ..core.store import owner_key

RATE_LIMITED = "rate-limited"


class SendLimits:
    def __init__(self, settings: Settings, is_admin: Callable[[Job], bool]) -> None:
        self.settings = settings
        self.is_admin = is_admin
        self.windows = SlidingWindows()
        self._told: dict[str, int] = {}  # owner -> when they were last told of a refusal

    def owner_limit(self) -> Limit:
        count = self.settings.send_limit_per_owner_per_hour
        return Limit(count, HOUR_MS, f"{count} scheduled messages per hour for each user")

    def chat_limit(self) -> Limit:
        count = self.settings.send_limit_per_chat_per_minute
        return Limit(count, MINUTE_MS, f"{count} scheduled messages per minute in one chat")

    def take(self, job: Job, session: str, now: int) -> str | None:
        """Count one delivering run of ``job`` to ``session``; the refusal text when a
        limit is reached (then nothing is counted)."""
        if self.is_admin(job):
            return None
        owner = owner_key(job.owner.origin, job.owner.sender_id)
        broken = self.windows.take(
            [(f"owner:{owner}", self.owner_limit()), (f"chat:{session}", self.chat_limit())],
            now,
        )
        if broken is None:
            return None
        return f"{RATE_LIMITED}: at most {broken.label}"

    def first_refusal(self, job: Job, now: int) -> bool:
        """True for the first refusal of an owner in an hour: the time to tell them."""
        owner = owner_key(job.owner.origin, job.owner.sender_id)
        told = self._told.get(owner)
        if told is not None and now - told < HOUR_MS:
            return False
        self._told = {k: t for k, t in self._told.items() if now - t < HOUR_MS}
        self._told[owner] = now
        return True
