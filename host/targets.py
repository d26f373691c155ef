"""Where output goes (SPEC §5): turning ``channel`` / ``to`` into a session AstrBot can push to.

Accepted forms, as in OpenClaw: a full ``unified_msg_origin``; ``channel`` = a platform id
(or its adapter type when only one platform has it) or ``last``; ``to`` = the platform's
session id, including Telegram's ``-100123``, ``-100123:topic:45``, ``-100123:45`` and the
``telegram:`` / ``telegram:group:`` prefixes, and ``channel:<id>`` / ``user:<id>`` for Slack,
Discord and Mattermost.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..core.errors import UserError
from ..core.service import Actor

if TYPE_CHECKING:
    from astrbot.api.star import Context

FRIEND, GROUP = "FriendMessage", "GroupMessage"
_MESSAGE_TYPES = {FRIEND, GROUP, "OtherMessage"}
_TELEGRAM_TOPIC = re.compile(r"^(-?\d+)(?::topic)?:(\d+)$")

# Adapters whose proactive push is limited by the chat service itself.
PUSH_LIMITS = {
    "qq_official": "QQ's official bot API allows only a few proactive messages per user and "
    "group each month, so scheduled messages may not arrive; OneBot v11 (aiocqhttp) has no "
    "such limit",
    "qq_official_webhook": "QQ's official bot API allows only a few proactive messages per "
    "month, so scheduled messages may not arrive",
    "weixin_official_account": "a WeChat official account may message a user only within 48 "
    "hours of their last message, so later runs may not arrive",
    "wecom_ai_bot": "a WeCom AI bot can only answer messages, so scheduled output may not arrive",
}


class TargetResolver:
    """Resolves targets against the platforms loaded in AstrBot right now."""

    def __init__(self, context: Context) -> None:
        self.context = context

    def platforms(self) -> dict[str, str]:
        """Loaded platforms: id -> adapter type (``aiocqhttp``, ``telegram``, …)."""
        manager = getattr(self.context, "platform_manager", None)
        found: dict[str, str] = {}
        for platform in getattr(manager, "platform_insts", []) or []:
            meta = platform.meta()
            found[str(meta.id)] = str(meta.name)
        return found

    def resolve(self, channel: str | None, to: str | None, actor: Actor) -> str:
        """The session for (channel, to) asked by ``actor``; a UserError says what is wrong."""
        channel = (channel or "").strip()
        to = (to or "").strip()
        if not channel and not to:
            return actor.origin
        if to and _is_full_session(to):
            return to
        if channel.lower() == "last":
            return actor.origin  # the live route is looked up at fire time
        platform_id = self._platform_id(channel, to, actor)
        adapter = self.platforms().get(platform_id, "")
        if not to:
            raise UserError(
                f"give the chat to deliver to with to=<id> on {platform_id}, or leave channel "
                "empty to deliver here"
            )
        return f"{platform_id}:{session_of(adapter, to)}"

    def _platform_id(self, channel: str, to: str, actor: Actor) -> str:
        platforms = self.platforms()
        prefix = to.split(":", 1)[0].lower() if ":" in to else ""
        wanted = channel or (prefix if prefix in ("telegram",) else "")
        if not wanted:
            return actor.origin.split(":", 1)[0]
        if wanted in platforms:
            return wanted
        by_type = [pid for pid, kind in platforms.items() if kind == wanted]
        if len(by_type) == 1:
            return by_type[0]
        known = ", ".join(f"{pid} ({kind})" for pid, kind in sorted(platforms.items())) or "none"
        if by_type:
            raise UserError(
                f"more than one {wanted} platform is loaded ({', '.join(by_type)}); "
                "name the platform id as channel"
            )
        raise UserError(f"no platform {wanted!r} is loaded; loaded platforms: {known}")

    def push_warning(self, session: str) -> str | None:
        """Said at creation time when the target platform cannot push reliably."""
        platform_id = session.split(":", 1)[0]
        adapter = self.platforms().get(platform_id)
        if adapter is None:
            return (
                f"note: no platform {platform_id!r} is loaded right now; the task will fail "
                "unless it is loaded by then"
            )
        limit = PUSH_LIMITS.get(adapter)
        return f"note: {limit}" if limit else None


def session_of(adapter: str, to: str) -> str:
    """``MessageType:session_id`` for a platform-level target id."""
    lowered = to.lower()
    for prefix, kind in (("telegram:group:", GROUP), ("telegram:", None)):
        if lowered.startswith(prefix):
            to = to[len(prefix) :]
            if kind:
                return f"{kind}:{_telegram_chat(to)}"
            break
    if lowered.startswith("channel:"):
        return f"{GROUP}:{to[len('channel:') :]}"
    if lowered.startswith("user:"):
        return f"{FRIEND}:{to[len('user:') :]}"
    if to.split(":", 1)[0] in _MESSAGE_TYPES:
        return to
    if adapter == "telegram" or _TELEGRAM_TOPIC.match(to):
        chat = _telegram_chat(to)
        return f"{GROUP if chat.startswith('-') else FRIEND}:{chat}"
    if to.startswith("-"):
        return f"{GROUP}:{to}"
    return f"{FRIEND}:{to}"


def _telegram_chat(to: str) -> str:
    """Telegram forum topics are sessions ``<chat>#<thread>`` in AstrBot."""
    topic = _TELEGRAM_TOPIC.match(to)
    return f"{topic[1]}#{topic[2]}" if topic else to


def _is_full_session(value: str) -> bool:
    parts = value.split(":", 2)
    return len(parts) == 3 and parts[1] in _MESSAGE_TYPES and bool(parts[0]) and bool(parts[2])
