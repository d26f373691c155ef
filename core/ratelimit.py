"""Sliding-window rate limits: how many sends (or creations) a key may make per window.

The rule is one pure function, ``admits``; ``SlidingWindows`` keeps the recent event
times per key in memory and asks it, with the time passed in by the caller (the
engine's clock), so tests run hours of traffic in microseconds.

Why memory and not the runs table: a send is counted against its owner and its target
chat, and a one-shot's job row (which holds both) is deleted after it ran, so the runs
table can not say whose a past send was. The windows are short (a minute, an hour): a
restart forgets them, so the most a restart can let through is one more window's worth,
and only admins restart the bot.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MINUTE_MS = 60_000
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` events per ``window_ms``; a count of 0 or less means no limit."""

    count: int
    window_ms: int
    label: str  # how the limit reads in a refusal, e.g. "30 per hour for each owner"


def admits(times: Sequence[int], limit: Limit, now: int) -> bool:
    """May one more event happen at ``now``, given the earlier event ``times``?"""
    if limit.count <= 0:
        return True
    since = now - limit.window_ms
    return sum(1 for t in times if t > since) < limit.count


def free_at(times: Sequence[int], limit: Limit, now: int) -> int:
    """When the next event will be admitted (``now`` when it already is)."""
    if admits(times, limit, now):
        return now
    recent = sorted(t for t in times if t > now - limit.window_ms)
    return recent[-limit.count] + limit.window_ms + 1


class SlidingWindows:
    """Recent event times per key; ``take`` admits an event under all its limits or none."""

    def __init__(self) -> None:
        self._times: dict[str, deque[int]] = {}

    def take(self, checks: Iterable[tuple[str, Limit]], now: int) -> Limit | None:
        """Record one event under every (key, limit) and return None, or record nothing
        and return the first limit it would break."""
        checks = list(checks)
        for key, limit in checks:
            times = self._recent(key, limit, now)
            if not admits(times, limit, now):
                return limit
        for key, _ in checks:
            self._times.setdefault(key, deque()).append(now)
        return None

    def give_back(self, keys: Iterable[str], at: int) -> None:
        """Forget one event recorded at ``at`` (a request that did not go through after all)."""
        for key in keys:
            times = self._times.get(key)
            if times and at in times:
                times.remove(at)

    def count(self, key: str, limit: Limit, now: int) -> int:
        return len(self._recent(key, limit, now))

    def _recent(self, key: str, limit: Limit, now: int) -> deque[int]:
        """The key's times inside ``limit``'s window; older ones are dropped (the longest
        window of a key bounds what is kept, so a key's memory stays small)."""
        times = self._times.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - max(limit.window_ms, HOUR_MS):
            times.popleft()
        if not times:
            del self._times[key]
            return deque()
        return deque(t for t in times if t > now - limit.window_ms)
