"""A fake Lark / Feishu Open Platform (Open API and the long-connection event channel) for
AstrBot's ``lark`` adapter.

The adapter (``astrbot/core/platform/sources/lark/``) uses lark_oapi, pointed at a host by
its own ``domain`` config key (:meth:`FakeLark.platform_config` sets it to the fake):

- ``lark_adapter.py`` ``LarkPlatformAdapter.run``: ``_refresh_bot_info`` (``bot_info.py``
  ``request_lark_bot_info``: ``POST /open-apis/auth/v3/tenant_access_token/internal``, then
  ``GET /open-apis/bot/v3/info``), then, in the default ``lark_connection_mode: socket``,
  ``lark.ws.Client._connect``: ``POST /callback/ws/endpoint`` (a blocking ``requests`` call on
  AstrBot's loop: this fake serves from a loop thread of its own) and a WebSocket to the
  URL it answers. Events are protobuf ``pbbp2.Frame`` data frames (``type: event``) carrying
  an ``im.message.receive_v1`` JSON payload; the client answers each with the same frame
  and a ``{"code": 200}`` payload (``Client._handle_data_frame``). :meth:`push_dm` /
  :meth:`push_group_message` send them.
- ``LarkPlatformAdapter.convert_msg``: ``GET /open-apis/contact/v3/users/<open_id>`` for a
  private sender's name; a private session is the sender's ``open_id`` (``ou_…``), a group's
  is its ``chat_id`` (``oc_…``).
- ``lark_event.py`` ``LarkMessageEvent._send_im_message``: a reply is ``POST
  /open-apis/im/v1/messages/<message_id>/reply``; ``send_by_session`` is ``POST
  /open-apis/im/v1/messages?receive_id_type=open_id|chat_id`` (text as a ``post``). A
  proactive send that Lark refuses raises ``RuntimeError`` with Lark's code and msg.

Errors are Lark-shaped JSON (``{"code": <non-zero>, "msg": ...}``) with an HTTP status.
The protobuf frame is encoded here by hand (:func:`encode_frame`): importing lark_oapi in
the test process before AstrBot would bind its ws client to the wrong event loop
(``lark_oapi.ws.client`` grabs ``asyncio.get_event_loop()`` at import).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from tests.integration.fakes.cloud import ApiCall, CloudPeer

APP_ID = "cli_test_app_0001"
APP_SECRET = "lark-test-secret"
TENANT_TOKEN = "t-test-tenant-token"
BOT_OPEN_ID = "ou_bot0000000000000001"
GROUP_CHAT = "oc_group000000000000001"
"""A group chat the bot is in."""
SERVICE_ID = 7

INVALID_OPEN_ID = {"code": 99992361, "msg": "open_id cross app"}
BOT_NOT_IN_CHAT = {"code": 230002, "msg": "Bot/User can NOT be out of the chat."}
SYSTEM_BUSY = {"code": 1, "msg": "system busy"}
NO_PERMISSION = {"code": 230027, "msg": "Lack of necessary permissions"}

METHOD_CONTROL, METHOD_DATA = 0, 1


# ------------------------------------------------------------ pbbp2.Frame codec


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def encode_frame(method: int, headers: dict[str, str], payload: bytes) -> bytes:
    """A ``pbbp2.Frame`` (lark_oapi/ws/pb/pbbp2.proto): SeqID 1, LogID 2, service 3,
    method 4, headers 5 (``Header``: key 1, value 2), payload 8."""
    out = _field(1, 0) + _field(2, 0) + _field(3, SERVICE_ID) + _field(4, method)
    for key, value in headers.items():
        out += _field(5, _field(1, key.encode()) + _field(2, value.encode()))
    return out + _field(8, payload)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    found: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        if key & 7 == 0:
            value, pos = _read_varint(data, pos)
            found.append((key >> 3, value))
        else:  # length-delimited: the only other wire type in Frame
            size, pos = _read_varint(data, pos)
            found.append((key >> 3, data[pos : pos + size]))
            pos += size
    return found


def decode_frame(data: bytes) -> tuple[int, dict[str, str], bytes]:
    """(method, headers, payload) of a ``pbbp2.Frame``."""
    method, headers, payload = METHOD_CONTROL, {}, b""
    for number, value in _fields(data):
        if number == 4 and isinstance(value, int):
            method = value
        elif number == 5 and isinstance(value, bytes):
            pair = dict(_fields(value))
            headers[bytes(pair[1]).decode()] = bytes(pair[2]).decode()  # type: ignore[arg-type]
        elif number == 8 and isinstance(value, bytes):
            payload = value
    return method, headers, payload


def post_text(content: str) -> str:
    """The text of a ``post`` (or ``text``) message's content JSON."""
    data = json.loads(content)
    if "text" in data and isinstance(data["text"], str):
        return data["text"]
    post = next(iter(data.values())) if "content" not in data else data
    return "".join(
        str(element.get("text", ""))
        for line in post.get("content", [])
        for element in line
        if isinstance(element, dict)
    )


class FakeLark(CloudPeer):
    """Lark for one self-built app in one group chat; private chats open on demand."""

    platform_type = "lark"
    login_path = "/open-apis/bot/v3/info"
    own_loop = True

    def __init__(self, platform_id: str = "lark") -> None:
        super().__init__()
        self.platform_id = platform_id
        self.messages: dict[str, str] = {}
        """message_id -> chat_id, for replies."""
        self._ids = itertools.count(1)

    # ------------------------------------------------------------ harness hooks

    def platform_config(self) -> dict[str, Any]:
        """The ``lark`` platform entry: long connection, Open API at the fake."""
        return {
            "id": self.platform_id,
            "type": "lark",
            "enable": True,
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
            "domain": self.base_url,
            "lark_connection_mode": "socket",
            "lark_bot_name": "astrbot",
        }

    def point_sdk(self) -> None:
        """Nothing to patch: the ``domain`` key points lark_oapi and bot_info at the fake."""

    def connected(self, adapter: Any) -> bool:
        """Bot info fetched and the long connection open."""
        client = getattr(adapter, "client", None)
        return adapter.bot_open_id == BOT_OPEN_ID and getattr(client, "_conn", None) is not None

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/callback/ws/endpoint", self._endpoint)
        app.router.add_get("/ws", self._socket)
        app.router.add_route("*", "/open-apis/{path:.*}", self._api)

    # ----------------------------------------------------------------- inbound

    def p2p_chat_of(self, open_id: str) -> str:
        """The private (p2p) chat between the bot and ``open_id`` (opened on first use)."""
        return self.private_chat(open_id, lambda: f"oc_p2p{open_id.removeprefix('ou_')}")

    async def push_dm(self, open_id: str, text: str) -> str:
        """``open_id`` writes to the bot in their private chat; returns its chat_id."""
        chat = self.p2p_chat_of(open_id)
        await self.in_peer(self._event(chat, "p2p", open_id, text))
        return chat

    async def push_group_message(self, open_id: str, text: str) -> None:
        """``open_id`` writes in the group chat."""
        await self.in_peer(self._event(GROUP_CHAT, "group", open_id, text))

    async def _event(self, chat: str, chat_type: str, open_id: str, text: str) -> None:
        message_id = f"om_{next(self._ids):020d}"
        self.messages[message_id] = chat
        now_ms = str(int(time.time() * 1000))
        event = {
            "schema": "2.0",
            "header": {
                "event_id": uuid.uuid4().hex,
                "event_type": "im.message.receive_v1",
                "create_time": now_ms,
                "token": "",
                "app_id": APP_ID,
                "tenant_key": "tenant0001",
            },
            "event": {
                "sender": {
                    "sender_id": {"open_id": open_id, "union_id": f"on_{open_id[3:]}"},
                    "sender_type": "user",
                    "tenant_key": "tenant0001",
                },
                "message": {
                    "message_id": message_id,
                    "create_time": now_ms,
                    "chat_id": chat,
                    "chat_type": chat_type,
                    "message_type": "text",
                    "content": json.dumps({"text": text}),
                    "mentions": [],
                },
            },
        }
        headers = {"type": "event", "message_id": message_id, "sum": "1", "seq": "0"}
        headers["trace_id"] = uuid.uuid4().hex
        frame = encode_frame(METHOD_DATA, headers, json.dumps(event).encode())
        if not self._sockets:
            raise RuntimeError("no long connection is open")
        for ws in list(self._sockets):
            await ws.send_bytes(frame)

    # ----------------------------------------------------------- event channel

    async def _endpoint(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("AppID") != APP_ID or body.get("AppSecret") != APP_SECRET:
            return web.json_response({"code": 514, "msg": "auth failed"})
        url = f"ws://127.0.0.1:{self.port}/ws?device_id=dev1&service_id={SERVICE_ID}"
        config = {"ReconnectCount": -1, "ReconnectInterval": 3, "ReconnectNonce": 1}
        return web.json_response(
            {"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": config}}
        )

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        self.logged_in()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    continue
                method, headers, payload = decode_frame(msg.data)
                if method == METHOD_CONTROL and headers.get("type") == "ping":
                    await ws.send_bytes(encode_frame(METHOD_CONTROL, {"type": "pong"}, b""))
                elif method == METHOD_DATA:  # the client's answer to an event
                    self.record(ApiCall("WS", "ack", {**headers, "payload": payload.decode()}))
        finally:
            self._sockets.remove(ws)
        return ws

    # ---------------------------------------------------------------- Open API

    async def _api(self, request: web.Request) -> web.Response:
        path = "/open-apis/" + request.match_info["path"]
        if path == "/open-apis/bot/v3/info":  # LarkPlatformAdapter.run starts with it
            await self.login_gate.wait()
        body: dict[str, Any] = await request.json() if request.can_read_body else {}
        fault = self.take_fault(request.method, path)
        if fault is not None:
            status, answer = fault.status, fault.body
        elif path.startswith("/open-apis/auth/"):
            status, answer = self._token(body)
        elif request.headers.get("Authorization") != f"Bearer {TENANT_TOKEN}":
            status, answer = 400, {"code": 99991663, "msg": "Invalid access token"}
        else:
            status, answer = self._respond(request, path, body)
        chat, text = self._message_target(request, path, body)
        if status != 200 or answer.get("code") != 0:
            chat = ""  # refused: recorded, not delivered
        self.record(ApiCall(request.method, path, body, status, chat, text))
        return web.json_response(answer, status=status)

    @staticmethod
    def _token(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("app_id") != APP_ID or body.get("app_secret") != APP_SECRET:
            return 400, {"code": 10014, "msg": "app secret invalid"}
        return 200, {
            "code": 0,
            "msg": "ok",
            "tenant_access_token": TENANT_TOKEN,
            "app_access_token": TENANT_TOKEN,
            "expire": 7200,
        }

    def _message_target(
        self, request: web.Request, path: str, body: dict[str, Any]
    ) -> tuple[str, str]:
        """(chat_id, text) a send or reply would land in; ``""`` when it is no send."""
        if request.method != "POST" or not path.startswith("/open-apis/im/v1/messages"):
            return "", ""
        text = post_text(str(body.get("content", "{}")))
        if path.endswith("/reply"):
            return self.messages.get(path.split("/")[-2], ""), text
        return self._receiver(request.query.get("receive_id_type", ""), body), text

    def _receiver(self, id_type: str, body: dict[str, Any]) -> str:
        """The chat a ``POST /im/v1/messages`` goes to, or ``""`` if Lark would refuse."""
        receive_id = str(body.get("receive_id", ""))
        if id_type == "chat_id":
            known = receive_id == GROUP_CHAT or receive_id in self.private_chats
            return receive_id if known else ""
        if id_type == "open_id" and receive_id.startswith("ou_"):
            return self.p2p_chat_of(receive_id)
        return ""

    def _respond(
        self, request: web.Request, path: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if path == "/open-apis/bot/v3/info":
            return 200, {
                "code": 0,
                "msg": "ok",
                "bot": {"app_name": "astrbot", "open_id": BOT_OPEN_ID},
            }
        if path.startswith("/open-apis/contact/v3/users/"):
            open_id = path.rsplit("/", 1)[1]
            return 200, {"code": 0, "data": {"user": {"open_id": open_id, "name": open_id[3:11]}}}
        if request.method == "POST" and path.startswith("/open-apis/im/v1/messages"):
            return self._send(request, path, body)
        return 404, {"code": 404, "msg": "404 page not found"}

    def _send(
        self, request: web.Request, path: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        chat, _ = self._message_target(request, path, body)
        if not chat:
            id_type = request.query.get("receive_id_type", "")
            return 400, INVALID_OPEN_ID if id_type == "open_id" else BOT_NOT_IN_CHAT
        message_id = f"om_{next(self._ids):020d}"
        self.messages[message_id] = chat
        data = {"message_id": message_id, "chat_id": chat, "msg_type": body.get("msg_type")}
        return 200, {"code": 0, "msg": "success", "data": data}
