"""A fake Misskey instance (HTTP API + streaming) for AstrBot's ``misskey`` adapter.

What it matches, in astrbot/core/platform/sources/misskey/ (AstrBot 4.29.3):

- ``misskey_adapter.py`` ``MisskeyPlatformAdapter.run``: ``POST /api/i`` (``get_current_user``)
  gives the bot's id and username, then ``_start_websocket_connection`` opens the stream.
- ``misskey_api.py`` ``MisskeyAPI._make_request``: every call is ``POST /api/<endpoint>``
  with the token as ``i`` in the JSON body; ``_process_response`` raises on a non-200
  answer and ``retry_async`` tries a 5xx / 429 three times (the adapter's
  ``send_by_session`` then swallows the error).
- ``misskey_api.py`` ``StreamingClient.connect`` / ``subscribe_channel`` / ``_handle_message``:
  ``GET /streaming?i=<token>``; ``{"type": "connect", "body": {"channel", "id"}}``
  subscribes; events arrive as ``{"type": "channel", "body": {"id": <subscription id>,
  "type": "newChatMessage" | "notification", "body": ...}}``.
- ``misskey_adapter.py`` ``send_by_session``: ``chat%<user>`` sessions post
  ``chat/messages/create-to-user``, ``room%<room>`` ``chat/messages/create-to-room``,
  anything else ``notes/create`` with the visibility ``resolve_message_visibility`` picks
  (the user cache, else ``misskey_default_visibility``).
- ``misskey_utils.py`` ``extract_sender_info`` / ``create_base_message`` /
  ``cache_user_info``: the fields of chat messages (``fromUser``, ``toRoomId``) and notes
  (``user``, ``visibility``, ``visibleUserIds``, ``mentions``) the adapter reads.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from aiohttp import web

from tests.integration.fakes.http_peer import ApiCall, HttpPeer

BOT_ID = "mk-bot"
BOT_USERNAME = "futurebot"
NOTES = "/api/notes/create"
TO_USER = "/api/chat/messages/create-to-user"
TO_ROOM = "/api/chat/messages/create-to-room"


class FakeMisskey(HttpPeer):
    """Misskey on loopback: :attr:`base_url` is the adapter's ``misskey_instance_url``."""

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)
        self.subscriptions: dict[str, str] = {}
        """Channel name (``main``, ``messaging``) -> the adapter's subscription id."""

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/streaming", self._streaming)
        app.router.add_post("/api/{endpoint:.+}", self.handle_api)

    async def answer(self, path: str, body: dict[str, Any]) -> Any:
        if path == "/api/i":
            await self.ready_gate.wait()
            return {"id": BOT_ID, "username": BOT_USERNAME, "name": "Future bot"}
        if path == NOTES:
            return {"createdNote": {"id": f"n{next(self._ids)}", **body}}
        if path in (TO_USER, TO_ROOM):
            return {"id": f"c{next(self._ids)}", **body}
        return {}

    async def _streaming(self, request: web.Request) -> web.WebSocketResponse:
        return await self.keep_socket(request, self._subscribe)

    async def _subscribe(self, _ws: web.WebSocketResponse, data: Any) -> None:
        if data.get("type") == "connect":
            body = data.get("body", {})
            self.subscriptions[body.get("channel", "")] = body.get("id", "")

    async def _event(self, kind: str, body: dict[str, Any]) -> None:
        channel = {"id": self.subscriptions.get("main", ""), "type": kind, "body": body}
        await self.broadcast({"type": "channel", "body": channel})

    async def push_chat(self, user_id: str, text: str, *, room_id: str | None = None) -> None:
        """A chat message from ``user_id`` to the bot (in ``room_id``, if given)."""
        message: dict[str, Any] = {
            "id": f"in{next(self._ids)}",
            "fromUserId": user_id,
            "fromUser": {"id": user_id, "username": f"user{user_id}", "name": f"User {user_id}"},
            "text": text,
        }
        if room_id:
            message.update(toRoomId=room_id, toRoom={"id": room_id, "name": f"room {room_id}"})
        else:
            message["toUserId"] = BOT_ID
        await self._event("newChatMessage", message)

    async def push_mention(self, user_id: str, text: str, *, visibility: str) -> None:
        """A note by ``user_id`` mentioning the bot, with ``visibility`` (``specified``:
        visible to the bot and the author only)."""
        note = {
            "id": f"note{next(self._ids)}",
            "text": f"@{BOT_USERNAME} {text}",
            "userId": user_id,
            "user": {"id": user_id, "username": f"user{user_id}", "name": f"User {user_id}"},
            "visibility": visibility,
            "visibleUserIds": [BOT_ID] if visibility == "specified" else [],
            "mentions": [BOT_ID],
        }
        await self._event("notification", {"type": "mention", "userId": user_id, "note": note})

    def sent(self, since: int = 0) -> list[ApiCall]:
        """Every call that posts a message (note, chat or room), failed ones included."""
        return [c for c in self.calls[since:] if c.path in (NOTES, TO_USER, TO_ROOM)]

    async def wait_connected(self, timeout: float = 20) -> None:
        """Until the adapter subscribed to its main channel (it is then listening)."""
        async with asyncio.timeout(timeout):
            while "main" not in self.subscriptions or not self.sockets:
                await asyncio.sleep(0.05)
