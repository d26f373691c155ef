"""Sending through AstrBot: where a job's output goes, and turning send failures into
errors the engine can judge (retry or not)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from astrbot.api.event import MessageChain

from ..core.models import Job
from ..core.store import Store, owner_key
from .failures import is_transient

if TYPE_CHECKING:
    from astrbot.api.star import Context


class DeliveryError(RuntimeError):
    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


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
        ) from exc
    if not found:
        platform = session.split(":", 1)[0]
        raise DeliveryError(
            f"no platform {platform!r} is loaded in AstrBot, so nothing can be sent to {session}",
            transient=False,
        )
