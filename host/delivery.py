"""Sending through AstrBot: where a job's output goes, and turning send failures into
errors the engine can judge (retry or not)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from astrbot.api.event import MessageChain

from ..core.models import Delivery, Job
from ..core.store import Store, owner_key
from .addresses import address
from .failures import is_platform_down, is_transient
from .http_witness import witnessing
from .platform_truth import PlatformTruth, SendRefused, truth_for
from .targets import private_origin

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
    owner), the target resolved at creation, or the job's origin (a Misskey note thread
    made private: host/targets.py ``private_origin``)."""
    target = job.target
    if (target.channel or "").lower() == "last":
        route = await store.get_route(owner_key(job.owner.origin, job.owner.sender_id))
        return private_origin(route or job.owner.origin)
    return target.session or private_origin(job.owner.origin)


async def send(context: Context, session: str, chain: MessageChain) -> Delivery:
    """Push ``chain`` to ``session``: ``delivered`` when the platform took it, ``unknown``
    when its adapter can not tell (host/platform_truth.py); DeliveryError says whether
    trying again may help."""
    platform = loaded_platform(context, session)
    if platform is None:
        raise DeliveryError(
            f"no platform {session.split(':', 1)[0]!r} is loaded in AstrBot, so nothing can "
            f"be sent to {session}",
            transient=False,
        )
    truth = truth_for(platform.meta().name)
    if not truth.ready(platform):
        raise DeliveryError(
            f"{session.split(':', 1)[0]} is not connected yet, so nothing was sent",
            transient=True,
            platform_down=True,
        )
    try:
        session = await address(platform, session)
        found, delivery = await _send_and_judge(context, platform, session, chain)
    except SendRefused as exc:
        raise DeliveryError(f"sending to {session} failed: {exc}", transient=exc.transient) from exc
    except ValueError as exc:  # a malformed session string
        raise DeliveryError(f"invalid target session {session!r}: {exc}", transient=False) from exc
    except Exception as exc:
        raise DeliveryError(
            f"sending to {session} failed: {type(exc).__name__}: {exc}",
            transient=is_transient(exc) or is_platform_down(exc),
            platform_down=is_platform_down(exc),
        ) from exc
    if not found:
        raise DeliveryError(f"the platform of {session} is no longer loaded", transient=False)
    return delivery


async def _send_and_judge(
    context: Context, platform: Any, session: str, chain: MessageChain
) -> tuple[bool, Delivery]:
    """AstrBot's send, watched the way the platform's truth entry says."""
    truth = truth_for(platform.meta().name)
    session_id = session.split(":", 2)[2]
    before = await _read_marker(truth, platform, session_id)
    with witnessing(truth.sessions(platform) if truth.sessions else []) as witness:
        found = await context.send_message(session, chain)
    delivery = truth.verdict(witness if truth.sessions else None)
    after = await _read_marker(truth, platform, session_id)
    if truth.marker and _UNREAD not in (before, after) and before != after:
        delivery = Delivery.DELIVERED
    return found, delivery


_UNREAD = object()


async def _read_marker(truth: PlatformTruth, platform: Any, session_id: str) -> Any:
    """The truth entry's marker; _UNREAD when reading failed, which leaves the send
    ``unknown`` (it must never turn a send that happened into a failure sent again)."""
    if truth.marker is None:
        return _UNREAD
    try:
        return await truth.marker(platform, session_id)
    except Exception:
        return _UNREAD


def loaded_platform(context: Context, session: str) -> Any | None:
    """The adapter instance a session's platform id names, if it is loaded."""
    platform_id = session.split(":", 1)[0]
    manager = getattr(context, "platform_manager", None)
    for platform in getattr(manager, "platform_insts", []) or []:
        if str(platform.meta().id) == platform_id:
            return platform
    return None


async def send_with_retries(
    context: Context,
    session: str,
    chain: Callable[[], MessageChain],
    delays: Sequence[float] = SEND_RETRY_DELAYS,
) -> Delivery:
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
            return await send(context, session, chain())
        except DeliveryError as exc:
            waited = loop.time() - started
            upcoming = [mark for mark in marks if mark > waited]
            if not exc.transient or not upcoming:
                raise
            pause = upcoming[0] - waited
            await asyncio.sleep(min(pause, PLATFORM_POLL_S) if exc.platform_down else pause)
