"""A fake Discord (REST API v10 and the gateway) for AstrBot's ``discord`` adapter.

The adapter (``astrbot/core/platform/sources/discord/``) is py-cord's ``discord.Bot``:

- ``client.py`` ``DiscordBotClient.start_polling`` -> ``Client.start``: ``GET /users/@me``
  (``HTTPClient.static_login``), ``GET /gateway`` (``HTTPClient.get_gateway``), then the
  gateway WebSocket: HELLO (op 10), a heartbeat (op 1, answered with op 11), IDENTIFY
  (op 2), READY, then one GUILD_CREATE per guild (``ConnectionState._delay_ready`` waits
  ``guild_ready_timeout`` after the last one before ``on_ready``). Until ``client.user`` is
  set ``DiscordPlatformAdapter.send_by_session`` skips the send
  (``discord_platform_adapter.py``); py-cord also sets it from the login answer
  (``Client.login``). :meth:`CloudPeer.hold_login` holds both back.
- ``on_ready`` -> ``_collect_and_register_commands`` and py-cord's ``on_connect`` sync slash
  commands: ``GET``/``PUT /applications/<id>/commands``.
- ``client.py`` ``on_message`` gets a MESSAGE_CREATE dispatch (:meth:`push_dm`,
  :meth:`push_channel_message`).
- ``discord_platform_event.py`` ``DiscordPlatformEvent.send``: ``client.get_channel`` (cache:
  guild channels from GUILD_CREATE) or ``fetch_channel`` (``GET /channels/<id>``, 404
  ``Unknown Channel`` for an id that is no channel, such as a user id), then
  ``POST /channels/<id>/messages``. A DM channel is opened with ``POST /users/@me/channels``
  (after ``GET /users/<id>``: ``Client.fetch_user``, as host/addresses.py opens a ``user:<id>``).

The REST base is ``discord.http.Route.API_BASE_URL``: point it at :attr:`api_base_template`
in the test process (py-cord has no per-client setting). The gateway URL is what
``GET /gateway`` answers, so it needs no patching. Frames are sent as text (no zlib).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.integration.fakes.cloud import ApiCall, CloudPeer

DEFAULT_TOKEN = "discord-test-token"
BOT_ID = "900000000000000001"
APPLICATION_ID = "900000000000000002"
GUILD_ID = "910000000000000001"
CHANNEL_ID = "910000000000000002"
"""The guild text channel ``#general``."""

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME = 0, 1, 2, 6
OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 9, 10, 11
HEARTBEAT_INTERVAL_MS = 41_250
UNKNOWN_CHANNEL = {"message": "Unknown Channel", "code": 10003}
MISSING_ACCESS = {"message": "Missing Access", "code": 50001}


def point_pycord_at(api_base_template: str) -> None:
    """py-cord builds every REST URL from ``Route.API_BASE_URL`` (``{API_VERSION}`` is
    formatted in); there is no per-client setting."""
    from discord.http import Route

    Route.API_BASE_URL = api_base_template


def _now() -> str:
    return datetime.now(UTC).isoformat()


def discord_user(user_id: str, name: str, bot: bool = False) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
    }


class FakeDiscord(CloudPeer):
    """Discord for one bot in one guild with one text channel; DMs open on demand."""

    platform_type = "discord"
    login_path = "/users/@me"

    def __init__(self, token: str = DEFAULT_TOKEN, platform_id: str = "discord") -> None:
        super().__init__()
        self.platform_id = platform_id
        self.token = token
        self.bot = discord_user(BOT_ID, "future-tasks-bot", bot=True)
        self.guild_channels = {CHANNEL_ID: "general"}
        self.login_attempts = 0
        """``GET /users/@me`` requests received (answered once :attr:`login_gate` is set)."""
        self.commands: list[dict[str, Any]] = []
        self._ids = itertools.count(920000000000000001)
        self._seq = itertools.count(1)
        self._logins: set[asyncio.Future[None]] = set()

    @property
    def api_base_template(self) -> str:
        """Value for ``discord.http.Route.API_BASE_URL`` (py-cord formats the version in)."""
        return f"{self.base_url}/api/v{{API_VERSION}}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def platform_config(self) -> dict[str, Any]:
        """The ``discord`` platform entry (keys as in AstrBot's default config)."""
        return {
            "id": self.platform_id,
            "type": "discord",
            "enable": True,
            "discord_token": self.token,
            "discord_proxy": "",
            "discord_command_register": False,
            "discord_guild_id_for_debug": "",
            "discord_activity_name": "",
        }

    def point_sdk(self) -> None:
        point_pycord_at(self.api_base_template)

    def connected(self, adapter: Any) -> bool:
        """Logged in (READY) and the guild is cached (GUILD_CREATE)."""
        client = getattr(adapter, "client", None)
        return (
            client is not None
            and client.user is not None
            and client.get_channel(int(CHANNEL_ID)) is not None
        )

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v{version}/{path:.*}", self._rest)

    # ---------------------------------------------------------------- inbound

    def dm_channel_of(self, user_id: str) -> str:
        """The DM channel with ``user_id`` (opened on first use, like Discord does)."""
        return self.private_chat(user_id, lambda: str(next(self._ids)))

    async def push_dm(self, user_id: str, text: str) -> str:
        """A user writes to the bot in a DM; returns the DM channel id."""
        channel_id = self.dm_channel_of(user_id)
        await self._dispatch("MESSAGE_CREATE", self._message(channel_id, user_id, text))
        return channel_id

    async def push_channel_message(self, user_id: str, text: str) -> None:
        """A guild member writes in ``#general``."""
        data = self._message(CHANNEL_ID, user_id, text)
        data["guild_id"] = GUILD_ID
        data["member"] = {"roles": [], "joined_at": _now(), "deaf": False, "mute": False}
        await self._dispatch("MESSAGE_CREATE", data)

    def _message(self, channel_id: str, user_id: str, text: str) -> dict[str, Any]:
        author = self.bot if user_id == BOT_ID else discord_user(user_id, f"user{user_id}")
        return {
            "id": str(next(self._ids)),
            "channel_id": channel_id,
            "author": author,
            "content": text,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": [],
        }

    # ---------------------------------------------------------------- gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        try:
            await ws.send_json({"op": OP_HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await self._on_frame(ws, json.loads(msg.data))
        finally:
            self._sockets.remove(ws)
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        self.record(ApiCall("WS", f"op{op}", frame.get("d") or {}))
        if op == OP_HEARTBEAT:
            await ws.send_json({"op": OP_HEARTBEAT_ACK})
        elif op == OP_IDENTIFY and frame["d"].get("token") == self.token:
            # Not awaited: the socket must keep answering heartbeats while READY waits.
            task = asyncio.ensure_future(self._login(ws))
            self._logins.add(task)
            task.add_done_callback(self._logins.discard)
        elif op in (OP_IDENTIFY, OP_RESUME):
            # A bad token or a resume: Discord says "start a new session".
            await ws.send_json({"op": OP_INVALID_SESSION, "d": False})

    async def _login(self, ws: web.WebSocketResponse) -> None:
        """READY once :attr:`login_gate` is open, then the guild."""
        await self.login_gate.wait()
        ready = {
            "v": 10,
            "user": self.bot,
            "guilds": [{"id": GUILD_ID, "unavailable": True}],
            "session_id": f"session-{next(self._ids)}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": APPLICATION_ID, "flags": 0},
        }
        await self._send_dispatch(ws, "READY", ready)
        await self._send_dispatch(ws, "GUILD_CREATE", self._guild())
        self.logged_in()

    def _guild(self) -> dict[str, Any]:
        member = {"user": self.bot, "roles": [], "joined_at": _now(), "deaf": False, "mute": False}
        return {
            "id": GUILD_ID,
            "name": "Future Tasks Test Guild",
            "icon": None,
            "owner_id": BOT_ID,
            "roles": [
                {
                    "id": GUILD_ID,
                    "name": "@everyone",
                    "permissions": "0",
                    "position": 0,
                    "color": 0,
                    "colors": {"primary_color": 0},
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "member_count": 1,  # == len(members): the guild counts as chunked
            "members": [member],
            "channels": [self._channel(cid) for cid in self.guild_channels],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "unavailable": False,
            "large": False,
            "joined_at": _now(),
            "premium_tier": 0,
            "mfa_level": 0,
            "verification_level": 0,
            "explicit_content_filter": 0,
            "default_message_notifications": 0,
            "afk_timeout": 300,
            "system_channel_flags": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
        }

    def _channel(self, channel_id: str) -> dict[str, Any]:
        if channel_id in self.private_chats:
            user = self.private_chats[channel_id]
            return {
                "id": channel_id,
                "type": 1,
                "recipients": [discord_user(user, f"user{user}")],
                "last_message_id": None,
            }
        return {
            "id": channel_id,
            "type": 0,
            "guild_id": GUILD_ID,
            "name": self.guild_channels[channel_id],
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a dispatch to every connected gateway session."""
        if not self._sockets:
            raise RuntimeError("no gateway session is connected")
        for ws in list(self._sockets):
            await self._send_dispatch(ws, event, data)

    async def _send_dispatch(self, ws: web.WebSocketResponse, event: str, data: Any) -> None:
        await ws.send_json({"op": OP_DISPATCH, "t": event, "s": next(self._seq), "d": data})

    # ------------------------------------------------------------------- REST

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        body: Any = {}
        if request.can_read_body:
            raw = await request.read()
            with contextlib.suppress(ValueError):
                body = json.loads(raw) if raw else {}
        method = request.method
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return await self._answer(method, path, body, 401, {"message": "401: Unauthorized"})
        fault = self.take_fault(method, path)
        if fault is not None:
            return await self._answer(method, path, body, fault.status, fault.body)
        if path == "/users/@me":
            self.login_attempts += 1
            await self.login_gate.wait()
        status, answer = self._respond(method, path, body if isinstance(body, dict) else {})
        if isinstance(body, list):  # a bulk command upsert
            self.commands = [{**c, "id": str(next(self._ids))} for c in body]
            answer = self.commands
        return await self._answer(method, path, body, status, answer)

    async def _answer(
        self, method: str, path: str, body: Any, status: int, answer: Any
    ) -> web.Response:
        chat, text = "", ""
        if method == "POST" and path.startswith("/channels/") and path.endswith("/messages"):
            chat, text = path.split("/")[2], str(body.get("content", ""))
        payload = body if isinstance(body, dict) else {"items": body}
        self.record(ApiCall(method, path, payload, status, chat, text))
        if status == 204:
            return web.Response(status=204)
        # py-cord decodes JSON only for exactly "application/json" (no charset).
        return web.Response(
            body=json.dumps(answer).encode(), status=status, content_type="application/json"
        )

    def _respond(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            return 200, self.bot
        if path == "/soundboard-default-sounds":  # ConnectionState._add_default_sounds
            return 200, []
        if path in ("/gateway", "/gateway/bot"):
            return 200, {"url": self.gateway_url, "shards": 1}
        if parts[0] == "applications":
            return 200, self.commands if method == "GET" else {**body, "id": str(next(self._ids))}
        if path == "/users/@me/channels" and method == "POST":
            return 200, self._channel(self.dm_channel_of(str(body["recipient_id"])))
        if parts[0] == "users" and len(parts) == 2 and method == "GET":  # Client.fetch_user
            return 200, discord_user(parts[1], f"user{parts[1][-4:]}")
        if parts[0] == "channels" and len(parts) >= 2:
            return self._channel_call(method, parts[1], parts[2:], body)
        return 404, {"message": "404: Not Found", "code": 0}

    def _channel_call(
        self, method: str, channel_id: str, rest: list[str], body: dict[str, Any]
    ) -> tuple[int, Any]:
        if channel_id not in self.guild_channels and channel_id not in self.private_chats:
            return 404, UNKNOWN_CHANNEL
        if not rest and method == "GET":
            return 200, self._channel(channel_id)
        if rest == ["typing"]:
            return 204, None
        if rest == ["messages"] and method == "POST":
            message = self._message(channel_id, BOT_ID, str(body.get("content", "")))
            if channel_id in self.guild_channels:
                message["guild_id"] = GUILD_ID
            return 200, message
        return 404, {"message": "404: Not Found", "code": 0}
