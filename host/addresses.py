"""Addresses found only at send time: a ``user:<id>`` target on Discord or Satori.

Both adapters send to a channel id (Discord ``send_by_session`` turns the session id into a
channel with ``client.get_channel``; Satori ``send_with_adapter`` posts it as
``channel_id``), so a user id given as the target must first become that user's private
channel. host/targets.py keeps such targets as session id ``user:<id>``; this module opens
the private channel right before each send, through the adapter's own client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .http_witness import witnessing
from .platform_truth import SendRefused

USER_PREFIX = "user:"


async def _discord_dm(platform: Any, user_id: str) -> str:
    """py-cord: ``Client.create_dm`` (``POST /users/@me/channels``), which also caches
    the channel where the adapter's ``client.get_channel`` finds it."""
    client = platform.client
    user = client.get_user(int(user_id)) or await client.fetch_user(int(user_id))
    channel = await client.create_dm(user)
    return str(channel.id)


async def _satori_dm(platform: Any, user_id: str) -> str:
    """Satori's ``user.channel.create`` through the adapter's ``send_http_request``
    (which answers ``{}`` on any failure: the witness says which)."""
    with witnessing([platform.session]) as witness:
        channel = await platform.send_http_request(
            "POST", "/user.channel.create", {"user_id": user_id}
        )
    if isinstance(channel, dict) and channel.get("id"):
        return str(channel["id"])
    answer = witness.answers[-1] if witness.answers else None
    raise SendRefused(
        f"Satori could not open a private channel with user {user_id}"
        + (f" (HTTP {answer.status})" if answer and answer.status else ""),
        transient=answer.transient if answer else False,
    )


DM_OPENERS: dict[str, Callable[[Any, str], Awaitable[str]]] = {
    "discord": _discord_dm,
    "satori": _satori_dm,
}


async def address(platform: Any, session: str) -> str:
    """``session`` with a ``user:<id>`` session id replaced by the user's private channel
    on adapters that need one; every other session unchanged."""
    platform_id, kind, session_id = session.split(":", 2)
    opener = DM_OPENERS.get(platform.meta().name)
    if opener is None or not session_id.startswith(USER_PREFIX):
        return session
    channel = await opener(platform, session_id[len(USER_PREFIX) :])
    return f"{platform_id}:{kind}:{channel}"
