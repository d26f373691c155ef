"""The chats the bot knows, for picking a task's chat on the page instead of typing a
session string: AstrBot's conversations, the routes the plugin has seen, and the chats of
existing tasks. Each is one ``unified_msg_origin`` with what a person searches it by:
platform, chat name, id."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.store import Store

if TYPE_CHECKING:
    from astrbot.api.star import Context

MAX_CHATS = 50
CONVERSATIONS_READ = 500
_SESSION = re.compile(r"^([^\s:]+):(FriendMessage|GroupMessage|OtherMessage):(\S+)$")
_KIND = {"FriendMessage": "private", "GroupMessage": "group", "OtherMessage": "other"}


@dataclass(slots=True)
class Chat:
    session: str
    platform: str  # the platform id as configured in AstrBot
    platform_type: str  # its adapter (aiocqhttp, telegram, ...), when it is loaded
    kind: str  # private / group / other
    chat_id: str
    names: list[str] = field(default_factory=list)  # conversation titles, owners' names
    seen_at: int = 0  # ms; the newest of its sources
    sources: list[str] = field(default_factory=list)  # conversation / route / task

    def matches(self, words: list[str]) -> bool:
        haystack = " ".join([self.session, self.platform_type, *self.names]).lower()
        return all(word in haystack for word in words)

    def view(self) -> dict[str, Any]:
        return asdict(self)


class ChatBook:
    """Collects chats from the sources, one entry per session."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.chats: dict[str, Chat] = {}

    def add(self, session: str, source: str, *, name: str = "", seen_at: int = 0) -> None:
        match = _SESSION.match(session or "")
        if match is None or match[1] == "webui":  # not a chat (the dashboard's own)
            return
        chat = self.chats.get(session)
        if chat is None:
            chat = self.chats[session] = Chat(
                session=session,
                platform=match[1],
                platform_type=self._platform_type(match[1]),
                kind=_KIND[match[2]],
                chat_id=match[3],
            )
        if name and name not in chat.names:
            chat.names.append(name)
        if source not in chat.sources:
            chat.sources.append(source)
        chat.seen_at = max(chat.seen_at, seen_at)

    def _platform_type(self, platform_id: str) -> str:
        try:
            platform = self.context.get_platform_inst(platform_id)
            return str(platform.meta().name) if platform is not None else ""
        except Exception:  # a platform that is gone or not loaded yet
            return ""


async def known_chats(context: Context, store: Store, query: str = "") -> list[Chat]:
    """The chats matching every word of ``query``, most recently seen first."""
    book = ChatBook(context)
    conversations, _ = await context.conversation_manager.get_filtered_conversations(
        page=1, page_size=CONVERSATIONS_READ, include_history=False
    )
    for conversation in conversations:
        seen = int(conversation.updated_at or conversation.created_at or 0) * 1000
        book.add(conversation.user_id, "conversation", name=conversation.title or "", seen_at=seen)
    for session, seen_at in await store.list_routes():
        book.add(session, "route", seen_at=seen_at)
    page = await store.list_jobs(limit=CONVERSATIONS_READ)
    for job in page.jobs:
        book.add(job.owner.origin, "task", name=job.owner.sender_name, seen_at=job.updated_at)
    words = query.lower().split()
    chats = [chat for chat in book.chats.values() if chat.matches(words)]
    chats.sort(key=lambda chat: chat.seen_at, reverse=True)
    return chats[:MAX_CHATS]
