"""Where output goes (SPEC §5): turning ``channel`` / ``to`` into a session AstrBot can push to.

Accepted forms, as in OpenClaw: a full ``unified_msg_origin``; ``channel`` = a platform id
(or its adapter type when only one platform has it) or ``last``; ``to`` = the platform's
session id in the forms :func:`session_of` lists per adapter (the README's platform table):
Telegram's ``-100123``, ``-100123:topic:45``, ``-100123:45`` and ``telegram:`` /
``telegram:group:``; ``channel:<id>`` / ``user:<id>`` for Slack, Discord, Satori and
Mattermost; ``group:`` / ``user:`` for QQ; Lark ``oc_`` chats and ``ou_`` people; Misskey
``user:`` / ``room:`` / ``note:``.
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
            if is_public_note(to) and not actor.is_admin:
                raise UserError("only admins may post scheduled output as a Misskey note")
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
        session = f"{platform_id}:{session_of(adapter, to)}"
        if is_public_note(session) and not actor.is_admin:
            raise UserError(
                "only admins may post scheduled output as a Misskey note (it may be public); "
                "leave to empty to get a chat message"
            )
        return session

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
    """``MessageType:session_id`` for a platform-level target id, in the forms the README
    documents per platform; a UserError when the form can not say where it goes."""
    if to.split(":", 1)[0] in _MESSAGE_TYPES:
        return to
    return _FORMS.get(adapter, _generic_session)(to)


def _prefixed(to: str, *prefixes: str) -> str | None:
    """``to`` without the first of ``prefixes`` it starts with (case-insensitive)."""
    for prefix in prefixes:
        if to.lower().startswith(prefix):
            return to[len(prefix) :]
    return None


def _telegram_session(to: str) -> str:
    if (chat := _prefixed(to, "telegram:group:")) is not None:
        return f"{GROUP}:{_telegram_chat(chat)}"
    to = _prefixed(to, "telegram:") or to
    chat = _telegram_chat(to)
    return f"{GROUP if chat.startswith('-') else FRIEND}:{chat}"


def _onebot_session(to: str) -> str:
    """QQ group numbers and QQ user numbers look alike: the form must say which."""
    if (group := _prefixed(to, "group:", "channel:")) is not None:
        return f"{GROUP}:{group}"
    if (user := _prefixed(to, "user:", "private:")) is not None:
        return f"{FRIEND}:{user}"
    raise UserError(
        f"on QQ (OneBot) say whether {to} is a group or a person: to=group:{to} or to=user:{to}"
    )


def _lark_session(to: str) -> str:
    """Lark chat ids (``oc_``) are chats, open ids (``ou_``) are people."""
    if (chat := _prefixed(to, "channel:", "chat:", "group:")) is not None:
        return f"{GROUP}:{chat}"
    if (user := _prefixed(to, "user:")) is not None:
        return f"{FRIEND}:{user}"
    return f"{GROUP if to.startswith('oc_') else FRIEND}:{to}"


def _channel_or_dm_session(to: str) -> str:
    """Discord and Satori send to channel ids; ``user:<id>`` stays a ``user:`` session id
    and becomes the user's private channel at send time (host/addresses.py)."""
    if (channel := _prefixed(to, "channel:")) is not None:
        return f"{GROUP}:{channel}"
    if to.lower().startswith("user:"):
        return f"{FRIEND}:user:{to[len('user:') :]}"
    if to.lower().startswith("private:"):
        return f"{FRIEND}:{to}"
    return f"{GROUP}:{to}"


def _slack_session(to: str) -> str:
    """Slack's chat.postMessage takes a user id as ``channel`` and opens the DM itself."""
    if (channel := _prefixed(to, "channel:")) is not None:
        return f"{GROUP}:{channel}"
    if (user := _prefixed(to, "user:")) is not None:
        return f"{FRIEND}:{user}"
    return f"{FRIEND if to[:1] in ('D', 'U', 'W') else GROUP}:{to}"


def _misskey_session(to: str) -> str:
    """A chat message by default; ``room:`` a chat room; ``note:`` a note (admins only,
    checked in TargetResolver.resolve), with the adapter's default visibility."""
    if (room := _prefixed(to, "room:", "room%", "channel:")) is not None:
        return f"{GROUP}:room%{room}"
    if (note := _prefixed(to, "note:", "note%")) is not None:
        return f"OtherMessage:note%{note}"
    user = _prefixed(to, "user:", "chat:", "chat%") or to
    return f"{FRIEND}:chat%{user}"


def _generic_session(to: str) -> str:
    if (channel := _prefixed(to, "channel:")) is not None:
        return f"{GROUP}:{channel}"
    if (user := _prefixed(to, "user:")) is not None:
        return f"{FRIEND}:{user}"
    if _TELEGRAM_TOPIC.match(to) or to.startswith("-"):
        return _telegram_session(to)
    return f"{FRIEND}:{to}"


_FORMS = {
    "telegram": _telegram_session,
    "aiocqhttp": _onebot_session,
    "lark": _lark_session,
    "discord": _channel_or_dm_session,
    "satori": _channel_or_dm_session,
    "slack": _slack_session,
    "misskey": _misskey_session,
}


def is_public_note(session: str) -> bool:
    """A Misskey note session (``<id>:OtherMessage:note%<user>``): the adapter posts a note
    whose visibility comes from its user cache, else its default (public)."""
    parts = session.split(":", 2)
    return len(parts) == 3 and parts[1] == "OtherMessage" and parts[2].startswith("note%")


def private_origin(session: str) -> str:
    """Where output for a job without an explicit target goes: its origin, except that a
    Misskey note thread becomes a chat message to the note's author, so scheduled output is
    never more public than where it was asked for (after a restart the adapter's user
    cache is empty and a note would go out with the default visibility, public)."""
    if not is_public_note(session):
        return session
    platform_id, _, session_id = session.split(":", 2)
    return f"{platform_id}:{FRIEND}:chat%{session_id[len('note%') :]}"


def _telegram_chat(to: str) -> str:
    """Telegram forum topics are sessions ``<chat>#<thread>`` in AstrBot."""
    topic = _TELEGRAM_TOPIC.match(to)
    return f"{topic[1]}#{topic[2]}" if topic else to


def _is_full_session(value: str) -> bool:
    parts = value.split(":", 2)
    return len(parts) == 3 and parts[1] in _MESSAGE_TYPES and bool(parts[0]) and bool(parts[2])
