"""A fake Slack (Web API and Socket Mode) for AstrBot's ``slack`` adapter.

The adapter (``astrbot/core/platform/sources/slack/``) uses slack_sdk's ``AsyncWebClient``
and, in its default ``slack_connection_mode: socket``, ``SocketModeClient``:

- ``slack_adapter.py`` ``SlackAdapter.run``: ``auth.test`` (``get_bot_user_id``), then
  ``client.py`` ``SlackSocketClient.start``: ``apps.connections.open`` with the app token,
  and a WebSocket to the URL it answers; Slack greets with ``{"type": "hello"}``; events
  arrive as ``events_api`` envelopes that the client acks with their ``envelope_id``
  (``SlackSocketClient._handle_events``). :meth:`FakeSlack.push_dm` /
  :meth:`FakeSlack.push_channel_message` send ``message`` events.
- ``SlackAdapter.convert_message``: ``users.info`` and ``conversations.info`` (``is_im`` makes
  a private chat whose session id is the *user* id; otherwise the channel id).
- ``slack_event.py`` ``SlackMessageEvent._send_message`` (replies and ``send_by_session``):
  ``chat.postMessage`` with ``channel`` = a channel id or a user id (Slack posts a user id
  into the app's DM with that user); on any error it tries once more as plain text and
  lets the second error through.

Slack answers most failures with HTTP 200 and ``{"ok": false, "error": ...}``; faults
(:meth:`CloudPeer.fail`) may answer any status. slack_sdk's base URL is a constructor
default (``AsyncBaseClient.__init__``, ``base_url=BASE_URL``) that the adapter does not
set: :meth:`FakeSlack.point_sdk` replaces that default in the test process.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from tests.integration.fakes.cloud import ApiCall, CloudPeer

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"
BOT_USER = "UBOT00001"
TEAM = "TTEAM0001"
CHANNEL = "CGENERAL1"
"""The public channel ``#general``."""

CHANNEL_NOT_FOUND = {"ok": False, "error": "channel_not_found"}
INTERNAL_ERROR = {"ok": False, "error": "internal_error"}


def point_slack_sdk_at(api_url: str) -> None:
    """Every ``AsyncWebClient`` built after this talks to ``api_url``: the base URL is the
    default of a constructor argument the adapter does not pass. slack_sdk takes a proxy
    from ``HTTPS_PROXY`` and ignores ``NO_PROXY``; the fake is on loopback, so no proxy
    (the subprocess harness sets a dead one to keep everything else offline)."""
    from slack_sdk.socket_mode import aiohttp as socket_mode
    from slack_sdk.web import async_base_client
    from slack_sdk.web.async_base_client import AsyncBaseClient

    for module in (async_base_client, socket_mode):
        module.load_http_proxy_from_env = lambda logger=None: None  # type: ignore[attr-defined]
    AsyncBaseClient.BASE_URL = api_url
    defaults = AsyncBaseClient.__init__.__defaults__ or ()
    AsyncBaseClient.__init__.__defaults__ = tuple(
        api_url if value == "https://slack.com/api/" else value for value in defaults
    )


class FakeSlack(CloudPeer):
    """Slack for one bot in one workspace with ``#general``; DMs open on demand."""

    platform_type = "slack"
    login_path = "/api/auth.test"

    def __init__(self, platform_id: str = "slack") -> None:
        super().__init__()
        self.platform_id = platform_id
        self.channels = {CHANNEL: "general"}
        self.acked: list[str] = []
        """``envelope_id`` of every event the adapter acknowledged."""
        self._ts = itertools.count(1)

    # ------------------------------------------------------------ harness hooks

    def platform_config(self) -> dict[str, Any]:
        """The ``slack`` platform entry in Socket Mode (AstrBot's default mode)."""
        return {
            "id": self.platform_id,
            "type": "slack",
            "enable": True,
            "bot_token": BOT_TOKEN,
            "app_token": APP_TOKEN,
            "signing_secret": "",
            "slack_connection_mode": "socket",
        }

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def point_sdk(self) -> None:
        point_slack_sdk_at(self.api_url)

    def connected(self, adapter: Any) -> bool:
        """Authenticated and the Socket Mode connection is open."""
        socket = getattr(getattr(adapter, "socket_client", None), "socket_client", None)
        return bool(adapter.bot_self_id) and socket is not None and bool(self._sockets)

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link", self._socket)

    # ----------------------------------------------------------------- inbound

    def im_of(self, user: str) -> str:
        """The DM (IM) channel with ``user`` (opened on first use)."""
        return self.private_chat(user, lambda: f"D{user[1:]}")

    async def push_dm(self, user: str, text: str) -> str:
        """``user`` writes to the bot in their DM; returns the IM channel id."""
        channel = self.im_of(user)
        await self._event({"channel": channel, "user": user, "text": text, "channel_type": "im"})
        return channel

    async def push_channel_message(self, user: str, text: str) -> None:
        """``user`` writes in ``#general``."""
        await self._event(
            {"channel": CHANNEL, "user": user, "text": text, "channel_type": "channel"}
        )

    async def _event(self, fields: dict[str, Any]) -> None:
        event = {
            "type": "message",
            "client_msg_id": uuid.uuid4().hex,
            "ts": f"{time.time():.6f}",
            "team": TEAM,
            **fields,
        }
        envelope = {
            "envelope_id": uuid.uuid4().hex,
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": {
                "token": "verification-token",
                "team_id": TEAM,
                "api_app_id": "AAPP00001",
                "type": "event_callback",
                "event_id": f"Ev{uuid.uuid4().hex[:10]}",
                "event_time": int(time.time()),
                "event": event,
            },
        }
        if not self._sockets:
            raise RuntimeError("no Socket Mode connection is open")
        for ws in list(self._sockets):
            await ws.send_str(json.dumps(envelope))

    # ------------------------------------------------------------- Socket Mode

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        try:
            await ws.send_str(
                json.dumps(
                    {
                        "type": "hello",
                        "num_connections": len(self._sockets),
                        "connection_info": {"app_id": "AAPP00001"},
                    }
                )
            )
            self.logged_in()
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    frame = json.loads(msg.data)
                    self.acked.append(str(frame.get("envelope_id", "")))
                    self.record(ApiCall("WS", "ack", frame))
        finally:
            self._sockets.remove(ws)
        return ws

    # ----------------------------------------------------------------- Web API

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        if method == "auth.test":  # the adapter's first call (SlackAdapter.run)
            await self.login_gate.wait()
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        fault = self.take_fault(request.method, f"/api/{method}")
        if fault is not None:
            status, answer = fault.status, fault.body
        elif token not in (BOT_TOKEN, APP_TOKEN):
            status, answer = 200, {"ok": False, "error": "invalid_auth"}
        else:
            status, answer = 200, self._respond(method, params, token)
        chat = ""
        if method == "chat.postMessage":
            chat = self._resolve(str(params.get("channel", ""))) or str(params.get("channel"))
            if status == 200 and not answer.get("ok"):
                chat = ""  # refused by Slack: recorded, not delivered
        text = message_text(params)
        self.record(ApiCall(request.method, f"/api/{method}", params, status, chat, text))
        return web.json_response(answer, status=status)

    def _resolve(self, channel: str) -> str | None:
        """A channel or IM id as is, a user id as their IM; None if Slack knows no such."""
        if channel in self.channels or channel in self.private_chats:
            return channel
        if channel.startswith("U") and channel != BOT_USER:
            return self.im_of(channel)
        return None

    def _respond(self, method: str, params: dict[str, Any], token: str) -> dict[str, Any]:
        if method == "apps.connections.open":
            if token != APP_TOKEN:
                return {"ok": False, "error": "not_allowed_token_type"}
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link?ticket=t"}
        if method == "auth.test":
            return {"ok": True, "team_id": TEAM, "user_id": BOT_USER, "bot_id": "BBOT00001"}
        if method == "users.info":
            user = str(params.get("user", ""))
            return {"ok": True, "user": {"id": user, "name": user.lower(), "real_name": user}}
        if method == "conversations.info":
            return self._conversation(str(params.get("channel", "")))
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": self.im_of(str(params.get("users", "")))}}
        if method == "chat.postMessage":
            channel = self._resolve(str(params.get("channel", "")))
            if channel is None:
                return CHANNEL_NOT_FOUND
            return {"ok": True, "channel": channel, "ts": f"{time.time():.0f}.{next(self._ts)}"}
        return {"ok": False, "error": "unknown_method"}

    def _conversation(self, channel: str) -> dict[str, Any]:
        if channel in self.private_chats:
            return {
                "ok": True,
                "channel": {"id": channel, "is_im": True, "user": self.private_chats[channel]},
            }
        if channel in self.channels:
            data = {"id": channel, "name": self.channels[channel], "is_im": False}
            return {"ok": True, "channel": {**data, "is_channel": True}}
        return CHANNEL_NOT_FOUND


def message_text(params: dict[str, Any]) -> str:
    """What a ``chat.postMessage`` shows: its blocks' texts (AstrBot sends text as
    ``section`` blocks with an empty ``text``), else its ``text``."""
    blocks = params.get("blocks") or []
    if isinstance(blocks, str):  # form-encoded
        blocks = json.loads(blocks)
    shown = [b["text"]["text"] for b in blocks if isinstance(b.get("text"), dict)]
    return "".join(shown) if shown else str(params.get("text", ""))


async def _params(request: web.Request) -> dict[str, Any]:
    """slack_sdk sends query parameters, a form or JSON depending on the method."""
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            with contextlib.suppress(ValueError):
                params.update(await request.json())
        else:
            params.update(dict(await request.post()))
    return params
