"""What each AstrBot adapter tells us about a send, and how the plugin finds out when it
does not (SPEC §5: ``delivered`` means the platform took the message).

``context.send_message`` answers True whenever the platform is loaded. Some adapters raise
when the chat service refuses (then no exception means the service took it); others
swallow the refusal, or return without sending while they are not connected. For those the
plugin checks the adapter's connection before sending and watches the chat service's HTTP
answer to the send itself (an aiohttp trace on the adapter's own client session, scoped to
the plugin's send by a context variable). What can be checked neither way is recorded as
``unknown``, never as ``delivered``.

Every entry of :data:`TRUTHS` cites the AstrBot 4.29.3 code it matches
(``astrbot/core/platform/sources/...``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..core.models import Delivery
from .http_witness import Answer, HttpWitness

Sessions = Callable[[Any], list[Any]]
Marker = Callable[[Any, str], Awaitable[Any]]


class SendRefused(RuntimeError):
    """The chat service refused the send (or it never went out); ``transient`` says
    whether trying again may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class PlatformTruth:
    """How one adapter type reports a send."""

    source: str
    """The adapter code this entry matches."""
    raises: bool = False
    """The adapter raises when the service refuses: no exception means it was taken."""
    ready: Callable[[Any], bool] = lambda platform: True
    """The adapter is connected: a send now can reach the service."""
    sessions: Sessions | None = None
    """The adapter's aiohttp sessions the send goes through (watched for the answer)."""
    send_paths: tuple[str, ...] = ()
    """URL path endings of the API calls that are the send itself."""
    marker: Marker | None = None
    """Where the adapter stores what it sent: read before and after the send (a change
    means it was taken)."""

    def verdict(self, witness: HttpWitness | None) -> Delivery:
        """``delivered`` / ``unknown`` after a send that raised nothing; SendRefused when
        the service's answer shows it was not taken."""
        if self.raises:
            return Delivery.DELIVERED
        if witness is None or not witness.watched:
            return Delivery.UNKNOWN
        answers = [a for a in witness.answers if a.path.endswith(self.send_paths)]
        if not answers:  # e.g. Discord's channel lookup failed, so no send was made
            troubled = [a for a in witness.answers if not a.ok]
            raise SendRefused(
                "the adapter sent nothing"
                + (f" after {troubled[-1].describe()}" if troubled else " (see AstrBot's log)"),
                transient=any(a.transient for a in troubled),
            )
        return _judge(answers[-1])


def _judge(answer: Answer) -> Delivery:
    if answer.ok:
        return Delivery.DELIVERED
    raise SendRefused(f"the chat service answered {answer.describe()}", transient=answer.transient)


def _satori_ready(platform: Any) -> bool:
    ws = getattr(platform, "ws", None)
    return bool(
        getattr(platform, "ready_received", False)
        and getattr(platform, "session", None) is not None
        and ws is not None
        and not platform._is_websocket_closed(ws)
    )


def _lark_ready(platform: Any) -> bool:
    connection = getattr(getattr(platform, "client", None), "_conn", None)
    return bool(getattr(platform, "bot_open_id", "")) or connection is not None


def _misskey_sessions(platform: Any) -> list[Any]:
    api = getattr(platform, "api", None)
    return [api.session] if api is not None else []


def _discord_sessions(platform: Any) -> list[Any]:
    http = getattr(getattr(platform, "client", None), "http", None)
    session = getattr(http, "_HTTPClient__session", None)
    return [session] if session is not None and hasattr(session, "trace_configs") else []


async def _webchat_last_saved(platform: Any, session_id: str) -> Any:
    """The newest row of the conversation in AstrBot's platform message history."""
    from astrbot.core import db_helper

    conversation = session_id.split("!", 2)[2] if session_id.startswith("webchat!") else session_id
    rows = await db_helper.get_platform_message_history("webchat", conversation, 1, 1)
    return rows[0].id if rows else None


TRUTHS: dict[str, PlatformTruth] = {
    "aiocqhttp": PlatformTruth(
        source="aiocqhttp/aiocqhttp_platform_adapter.py send_by_session -> "
        "AiocqhttpMessageEvent.send_message: aiocqhttp raises ActionFailed / "
        "ApiNotAvailable (not connected yet)",
        raises=True,
    ),
    "telegram": PlatformTruth(
        source="telegram/tg_adapter.py send_by_session -> TelegramPlatformEvent.send_with_client: "
        "python-telegram-bot raises TelegramError (BadRequest, Forbidden, NetworkError)",
        raises=True,
    ),
    "slack": PlatformTruth(
        source="slack/slack_adapter.py send_by_session -> SlackMessageEvent._send_message: "
        "the plain-text retry of chat_postMessage raises SlackApiError; run() sets "
        "bot_self_id once auth.test answered, before it opens Socket Mode",
        raises=True,
        ready=lambda platform: bool(getattr(platform, "bot_self_id", None)),
    ),
    "lark": PlatformTruth(
        source="lark/lark_adapter.py send_by_session -> LarkMessageEvent.send_message_chain / "
        "_send_im_message: a proactive send raises RuntimeError when not response.success(); "
        "run() sets bot_open_id from the bot info before the long connection (client._conn)",
        raises=True,
        ready=_lark_ready,
    ),
    "satori": PlatformTruth(
        source="satori/satori_adapter.py send_by_session -> SatoriPlatformEvent."
        "send_with_adapter -> send_http_request: returns {} on a non-200 answer or an "
        "error; ready_received is set by the READY (op 4) signal",
        ready=_satori_ready,
        sessions=lambda platform: [platform.session] if platform.session else [],
        send_paths=("/message.create",),
    ),
    "misskey": PlatformTruth(
        source="misskey/misskey_adapter.py send_by_session: the whole send is wrapped in "
        "except Exception; misskey_api.py MisskeyAPI._make_request posts through "
        "MisskeyAPI.session (retries a 5xx itself); bot_self_id is set once "
        "run() -> get_current_user() answered",
        ready=lambda platform: platform.api is not None and bool(platform.bot_self_id),
        sessions=_misskey_sessions,
        send_paths=(
            "/api/notes/create",
            "/chat/messages/create-to-user",
            "/chat/messages/create-to-room",
        ),
    ),
    "discord": PlatformTruth(
        source="discord/discord_platform_adapter.py send_by_session returns while "
        "client.user is None; discord_platform_event.py DiscordPlatformEvent.send logs "
        "and swallows every error of channel.send (py-cord's HTTPClient session)",
        ready=lambda platform: getattr(getattr(platform, "client", None), "user", None) is not None,
        sessions=_discord_sessions,
        send_paths=("/messages",),
    ),
    "webchat": PlatformTruth(
        source="webchat/webchat_adapter.py send_by_session: with no page listening it saves the "
        "message to the platform message history (_save_proactive_message, errors only logged); "
        "with a page open it streams it to that page, which saves it later",
        marker=_webchat_last_saved,
    ),
}


UNVERIFIED = PlatformTruth(
    source="an adapter this plugin has not checked: its result can not be told apart "
    "from a swallowed failure"
)


def truth_for(adapter: str) -> PlatformTruth:
    """The entry for an adapter type (``meta().name``); unknown adapters get UNVERIFIED."""
    return TRUTHS.get(adapter, UNVERIFIED)
