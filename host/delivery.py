"""Sending through AstrBot: where a job's output goes, and turning send failures into
errors the engine can judge (retry or not)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from astrbot.api.event import MessageChain

from ..core.models import Job
from ..core.store import Store, owner_key
from .failures import is_platform_down, is_transient

if TYPE_CHECKING:
    from astrbot.api.star import Context

SEND_RETRY_DELAYS = (5.0, 10.0, 20.0)
PLATFORM_POLL_S = 0.25


class DeliveryError(RuntimeError):
    def __init__(self, message: str, *, transient: bool, platform_down: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.platform_down = platform_down
        """Nothing was sent because the platform is not connected (yet)."""


async def delivery_session(job: Job, store: Store) -> str:
    """The session a job's output goes to: ``last`` (where the bot last talked with the
    owner), the target resolved at creation, or the job's origin."""
    target = job.target
    if (target.channel or "").lower() == "last":
        route = await store.get_route(owner_key(job.owner.origin, job.owner.sender_id))
        return route or job.owner.origin
    return target.session or job.owner.origin


async def send(context: Context, session: str, chain: MessageChain) -> None:
    """Push ``chain`` to ``session``; DeliveryError says whether trying again may help."""
    try:
        found = await context.send_message(session, chain)
    except ValueError as exc:  # a malformed session string
        raise DeliveryError(f"invalid target session {session!r}: {exc}", transient=False) from exc
    except Exception as exc:
        raise DeliveryError(
            f"sending to {session} failed: {type(exc).__name__}: {exc}",
            transient=is_transient(exc),
            platform_down=is_platform_down(exc),
        ) from exc
    if not found:
        platform = session.split(":", 1)[0]
        raise DeliveryError(
            f"no platform {platform!r} is loaded in AstrBot, so nothing can be sent to {session}",
            transient=False,
        )


async def send_with_retries(
    context: Context,
    session: str,
    chain: Callable[[], MessageChain],
    delays: Sequence[float] = SEND_RETRY_DELAYS,
) -> None:
    """Send; a transient failure is tried again after 5, 10 and 20 s. Each attempt gets a
    fresh chain: AstrBot's send path changes the chain it is given.

    While the platform is not connected (the bot has just restarted and the QQ side is
    still dialling in), nothing can have gone out, so it is tried every 0.25 s within the
    same 35 s: a catch-up run is delivered the moment the platform is back instead of 5 s
    later, and does not sit in flight where another restart would interrupt it.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    marks = list(itertools.accumulate(delays))
    while True:
        try:
            await send(context, session, chain())
            return
        except DeliveryError as exc:
            waited = loop.time() - started
            upcoming = [mark for mark in marks if mark > waited]
            if not exc.transient or not upcoming:
                raise
            pause = upcoming[0] - waited
            await asyncio.sleep(min(pause, PLATFORM_POLL_S) if exc.platform_down else pause)
