"""Seeing the chat service's HTTP answer to a send an adapter makes, when the adapter
itself swallows it (Satori, Misskey, Discord; see host/platform_truth.py).

An aiohttp ``TraceConfig`` is added once to the adapter's own ``ClientSession``
(``ClientSession.trace_configs`` is the session's public list of them). It records only
requests made while a witness is active in the current context, i.e. inside the plugin's
own ``send``: the bot's replies in other tasks are not seen, and concurrent sends of the
plugin each see their own requests (asyncio copies the context per task).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import aiohttp

_ACTIVE: ContextVar[HttpWitness | None] = ContextVar("future_tasks_http_witness", default=None)


@dataclass(frozen=True)
class Answer:
    """One HTTP request the adapter made during a send, and how it ended."""

    method: str
    path: str
    status: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def describe(self) -> str:
        """``POST /path with HTTP 403`` (or with the network error)."""
        return f"{self.method} {self.path} with " + (
            f"HTTP {self.status}" if self.status else self.error
        )

    @property
    def transient(self) -> bool:
        """A network error, a rate limit or a server error: trying later may work."""
        return not self.status or self.status == 429 or self.status >= 500


@dataclass
class HttpWitness:
    answers: list[Answer] = field(default_factory=list)
    watched: bool = False
    """At least one of the adapter's sessions could be watched."""


async def _on_end(_session: Any, _ctx: Any, params: aiohttp.TraceRequestEndParams) -> None:
    witness = _ACTIVE.get()
    if witness is not None:
        witness.answers.append(Answer(params.method, params.url.path, params.response.status))


async def _on_error(_session: Any, _ctx: Any, params: aiohttp.TraceRequestExceptionParams) -> None:
    witness = _ACTIVE.get()
    if witness is not None:
        error = f"{type(params.exception).__name__}: {params.exception}"
        witness.answers.append(Answer(params.method, params.url.path, error=error))


def _trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_request_end.append(_on_end)
    config.on_request_exception.append(_on_error)
    config.freeze()
    return config


_TRACE = _trace_config()


def _watch(session: Any) -> bool:
    configs = getattr(session, "trace_configs", None)
    if not isinstance(configs, list):
        return False
    if _TRACE not in configs:
        configs.append(_TRACE)
    return True


@contextlib.contextmanager
def witnessing(sessions: Sequence[Any]) -> Iterator[HttpWitness]:
    """Record the HTTP answers ``sessions`` get inside the ``with`` block."""
    witness = HttpWitness()
    watched = [_watch(s) for s in sessions]  # every session, not just the first
    witness.watched = any(watched)
    token = _ACTIVE.set(witness)
    try:
        yield witness
    finally:
        _ACTIVE.reset(token)
