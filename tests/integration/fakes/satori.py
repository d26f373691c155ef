"""A fake Satori server (HTTP API + events WebSocket) for AstrBot's ``satori`` adapter.

What it matches, in astrbot/core/platform/sources/satori/ (AstrBot 4.29.3):

- ``satori_adapter.py`` ``SatoriPlatformAdapter.connect_websocket`` / ``send_identify``:
  the adapter dials ``satori_endpoint`` and sends IDENTIFY ``{"op": 3, "body": {"token"}}``;
  ``handle_message`` takes READY (op 4, ``body.logins``), PONG (op 2) and EVENT (op 0);
  ``heartbeat_loop`` sends PING (op 1).
- ``satori_adapter.py`` ``handle_event`` / ``convert_satori_message``: a
  ``message-created`` event with ``user``, ``channel``, ``guild`` (present: a group
  message) and ``login``; the session id is the channel id.
- ``satori_event.py`` ``SatoriPlatformEvent.send_with_adapter`` ->
  ``satori_adapter.py`` ``send_http_request``: ``POST <satori_api_base_url>/message.create``
  with ``{"channel_id", "content"}`` and ``satori-platform`` / ``satori-user-id`` headers;
  a non-200 answer becomes ``{}`` inside the adapter.
- ``POST /user.channel.create`` (Satori's own API; the plugin uses it to open a private
  channel for a ``user:<id>`` target) answers ``{"id": "private:<user id>"}``, the private
  channel form of Satori implementations such as Chronocat.
"""

from __future__ import annotations

import html
import itertools
import time
from typing import Any

from aiohttp import web

from tests.integration.fakes.http_peer import ApiCall, HttpPeer

PREFIX = "/satori/v1"
BOT_ID = "satori-bot"
PLATFORM = "fakechat"


class FakeSatori(HttpPeer):
    """Satori on loopback: :attr:`api_base_url` and :attr:`endpoint` go in the config."""

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)
        self.identified = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_get(f"{PREFIX}/events", self._events)
        app.router.add_post(PREFIX + "/{method}", self.handle_api)

    @property
    def api_base_url(self) -> str:
        return f"{self.base_url}{PREFIX}"

    @property
    def endpoint(self) -> str:
        return f"ws://127.0.0.1:{self.port}{PREFIX}/events"

    async def answer(self, path: str, body: dict[str, Any]) -> Any:
        if path.endswith("/message.create"):
            return [{"id": f"m{next(self._ids)}", "content": body.get("content", "")}]
        if path.endswith("/user.channel.create"):
            return {"id": f"private:{body.get('user_id')}", "type": 1}
        return {}

    async def _events(self, request: web.Request) -> web.WebSocketResponse:
        return await self.keep_socket(request, self._signal)

    async def _signal(self, ws: web.WebSocketResponse, data: Any) -> None:
        op = data.get("op")
        if op == 3:  # IDENTIFY -> READY once the gate is open
            self.identified += 1
            await self.ready_gate.wait()
            login = {"platform": PLATFORM, "user": {"id": BOT_ID, "name": "bot"}, "status": 1}
            await ws.send_json({"op": 4, "body": {"logins": [login]}})
        elif op == 1:  # PING
            await ws.send_json({"op": 2, "body": {}})

    async def push_message(
        self, user_id: str, text: str, *, channel_id: str, guild_id: str | None = None
    ) -> None:
        """A user's message in ``channel_id`` (a guild channel when ``guild_id``)."""
        event = {
            "sn": next(self._ids),
            "type": "message-created",
            "timestamp": int(time.time()),
            "login": {"platform": PLATFORM, "user": {"id": BOT_ID}},
            "user": {"id": user_id, "name": f"user{user_id}"},
            "channel": {"id": channel_id, "type": 0 if guild_id else 1},
            "guild": {"id": guild_id, "name": f"guild{guild_id}"} if guild_id else None,
            "message": {"id": f"in{next(self._ids)}", "content": html.escape(text)},
        }
        await self.broadcast({"op": 0, "body": event})

    def sent(self, since: int = 0) -> list[ApiCall]:
        """``message.create`` calls from index ``since``, failed ones included."""
        return self.calls_to(f"{PREFIX}/message.create", since)


def text_of(call: ApiCall) -> str:
    """The plain text of a ``message.create`` call (the adapter escapes ``& < >``)."""
    return html.unescape(str(call.body.get("content", "")))
