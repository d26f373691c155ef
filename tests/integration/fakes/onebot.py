"""A fake OneBot v11 implementation (the QQ side) for integration tests.

AstrBot's ``aiocqhttp`` adapter is a reverse-WebSocket *server*; a real OneBot
implementation (NapCat, Lagrange, ...) connects to it as a client. This fake does
the same: it connects to ``ws://127.0.0.1:<port>/ws`` as a "Universal" client,
pushes message events in array format and answers every API action AstrBot
calls, recording each one so tests can assert on what the bot sent.

All coroutines must run on one event loop (the harness uses AstrBot's loop).

With ``reconnect=True`` the fake behaves like NapCat/Lagrange when the bot restarts:
once the server drops the connection it keeps dialling (every ``reconnect_interval``
seconds) until AstrBot accepts again or :meth:`FakeOneBot.close` is called. Recorded
actions survive reconnects; :attr:`FakeOneBot.connections` counts successful connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.integration.fakes.recording import wait_for_record

Responder = Callable[[dict[str, Any]], Any]
"""Computes the ``data`` of an action response from the action's params."""


@dataclass(frozen=True)
class Action:
    """One API call AstrBot made to the fake (e.g. ``send_private_msg``)."""

    name: str
    params: dict[str, Any]
    at: float = field(default_factory=time.time)
    """Wall-clock time (``time.time()``) when the fake received it."""
    monotonic: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        """Concatenated text of the ``message`` param (array or string form)."""
        return message_text(self.params.get("message"))

    @property
    def target(self) -> int | None:
        """``user_id`` for private sends, ``group_id`` for group sends."""
        for key in ("user_id", "group_id"):
            if key in self.params:
                return int(self.params[key])
        return None


def message_text(message: Any) -> str:
    """Extract the plain text of a OneBot message (segment list or CQ string)."""
    if message is None:
        return ""
    if isinstance(message, str):
        return message
    if isinstance(message, dict):
        message = [message]
    parts: list[str] = []
    for seg in message:
        if isinstance(seg, dict) and seg.get("type") == "text":
            parts.append(str(seg.get("data", {}).get("text", "")))
    return "".join(parts)


def text_segments(text: str) -> list[dict[str, Any]]:
    """Array-format message consisting of one text segment."""
    return [{"type": "text", "data": {"text": text}}]


class FakeOneBot:
    """OneBot v11 client that talks to AstrBot's reverse-WebSocket server."""

    def __init__(
        self,
        url: str,
        self_id: int = 10000,
        nickname: str = "FakeBot",
        *,
        reconnect: bool = False,
        reconnect_interval: float = 0.1,
    ) -> None:
        self.url = url
        self.self_id = self_id
        self.nickname = nickname
        self.reconnect = reconnect
        """Dial again whenever the server drops the connection (until :meth:`close`)."""
        self.reconnect_interval = reconnect_interval
        self.connections = 0
        """Successful WebSocket connects so far (a reconnect after a restart adds one)."""
        self.hold_reconnect = False
        """While True, a dropped connection is not dialled again (a OneBot implementation
        that comes back late); may be set from any thread."""
        self._closing = False
        self.actions: list[Action] = []
        self.events_sent: list[dict[str, Any]] = []
        self.responders: dict[str, Responder] = {}
        """Per-action overrides; return the response ``data`` or raise to fail it."""
        self.ack_delay = 0.0
        """Seconds between receiving an action and answering it: the message has reached
        QQ but AstrBot does not know yet (a kill in between duplicates it)."""
        self._acks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed: asyncio.Condition | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def connected(self) -> bool:
        """Whether the WebSocket to AstrBot is open."""
        return self._ws is not None and not self._ws.closed

    async def connect(self, timeout: float = 15.0) -> None:
        """Connect, retrying until AstrBot's server accepts or ``timeout`` passes."""
        self._closing = False
        if self._changed is None:
            self._changed = asyncio.Condition()
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=False)
        deadline = time.monotonic() + timeout
        while (error := await self._dial()) is not None:
            if time.monotonic() > deadline:
                await self.close()
                raise error
            await asyncio.sleep(0.1)
        self._reader = asyncio.create_task(self._run(), name="fake-onebot-reader")

    async def _dial(self) -> Exception | None:
        """One connection attempt: None once the WebSocket is open, else the error."""
        assert self._session is not None
        headers = {
            "X-Self-ID": str(self.self_id),
            "X-Client-Role": "Universal",
            "User-Agent": "FakeOneBot/1.0",
        }
        try:
            self._ws = await self._session.ws_connect(self.url, headers=headers, heartbeat=None)
        except (aiohttp.ClientError, OSError) as exc:
            return exc
        self.connections += 1
        await self._notify()
        return None

    async def _run(self) -> None:
        """Read until the server hangs up; with ``reconnect``, dial again and go on."""
        while True:
            # The connection may break mid-reply (e.g. the bot was killed).
            with contextlib.suppress(aiohttp.ClientError, OSError, RuntimeError):
                await self._read_loop()
            if not self.reconnect or self._closing:
                return
            ws, self._ws = self._ws, None
            if ws is not None:
                with contextlib.suppress(Exception):
                    await ws.close()
            await self._notify()
            while not self._closing and (self.hold_reconnect or await self._dial() is not None):
                await asyncio.sleep(self.reconnect_interval)
            if self._closing:
                return

    async def wait_connected(self, timeout: float = 15.0, min_connections: int = 1) -> None:
        """Wait until the WebSocket is open and at least ``min_connections`` connects
        happened (pass the old :attr:`connections` + 1 to wait for a reconnect)."""
        assert self._changed is not None, "connect() first"
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(
                    lambda: self.connected and self.connections >= min_connections
                )
        except TimeoutError:
            raise TimeoutError(
                f"FakeOneBot not connected to {self.url} within {timeout}s "
                f"(connections={self.connections}, want >= {min_connections})"
            ) from None

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    async def close(self) -> None:
        """Close the connection (idempotent); stops reconnecting."""
        self._closing = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------- API actions

    async def _read_loop(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                payload = json.loads(msg.data)
            except ValueError:
                continue
            if isinstance(payload, dict) and "action" in payload:
                if self.ack_delay:  # answer later; keep reading meanwhile
                    task = asyncio.create_task(self._handle_action(payload))
                    self._acks.add(task)
                    task.add_done_callback(self._acks.discard)
                else:
                    await self._handle_action(payload)

    async def _handle_action(self, payload: dict[str, Any]) -> None:
        name = str(payload["action"])
        params = payload.get("params") or {}
        action = Action(name=name, params=params)
        try:
            data = self._respond(name, params)
            response: dict[str, Any] = {"status": "ok", "retcode": 0, "data": data}
        except Exception as exc:  # a responder asked us to fail this call
            response = {"status": "failed", "retcode": 100, "data": None, "msg": str(exc)}
        if "echo" in payload:
            response["echo"] = payload["echo"]
        # Record before replying so a waiter sees the action no later than AstrBot
        # sees the call succeed.
        await self._record(action)
        if self.ack_delay:
            await asyncio.sleep(self.ack_delay)
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(json.dumps(response))

    def _respond(self, name: str, params: dict[str, Any]) -> Any:
        if name in self.responders:
            return self.responders[name](params)
        if name == "get_login_info":
            return {"user_id": self.self_id, "nickname": self.nickname}
        if name == "get_stranger_info":
            uid = int(params.get("user_id", 0))
            return {"user_id": uid, "nickname": f"user{uid}", "sex": "unknown", "age": 0}
        if name == "get_group_info":
            gid = int(params.get("group_id", 0))
            return {"group_id": gid, "group_name": f"group{gid}", "member_count": 3}
        if name == "get_group_member_info":
            uid = int(params.get("user_id", 0))
            return {
                "group_id": int(params.get("group_id", 0)),
                "user_id": uid,
                "nickname": f"user{uid}",
                "card": "",
                "role": "member",
            }
        if name in {"get_group_member_list", "get_friend_list", "get_group_list"}:
            return []
        if name == "get_version_info":
            return {"app_name": "FakeOneBot", "app_version": "1.0", "protocol_version": "v11"}
        return {"message_id": next(self._ids)}

    async def _record(self, action: Action) -> None:
        self.actions.append(action)
        await self._notify()

    def mark(self) -> int:
        """Index to pass as ``since`` so a later wait ignores earlier actions."""
        return len(self.actions)

    def sent(self, since: int = 0) -> list[Action]:
        """Message-sending actions received so far (from index ``since``)."""
        return [a for a in self.actions[since:] if a.name.startswith("send_")]

    async def wait_for_action(
        self,
        predicate: Callable[[Action], bool],
        timeout: float = 10.0,
        since: int = 0,
    ) -> Action:
        """Return the first action (from index ``since``) matching ``predicate``.

        Already-recorded actions count, so there is no race between triggering a
        send and starting to wait. Raises ``TimeoutError`` listing what did arrive.
        """
        assert self._changed is not None, "connect() first"
        return await wait_for_record(
            self.actions,
            self._changed,
            predicate,
            timeout=timeout,
            since=since,
            describe=lambda got: f"OneBot actions: {[(a.name, a.params) for a in got]}",
        )

    # ------------------------------------------------------------------ events

    async def _send_event(self, event: dict[str, Any]) -> dict[str, Any]:
        if self._ws is None or self._ws.closed:
            raise RuntimeError("FakeOneBot is not connected")
        self.events_sent.append(event)
        await self._ws.send_str(json.dumps(event))
        return event

    def _base_message_event(self, message: str | list[dict[str, Any]]) -> dict[str, Any]:
        segments = text_segments(message) if isinstance(message, str) else message
        return {
            "time": int(time.time()),
            "self_id": self.self_id,
            "post_type": "message",
            "message_id": next(self._ids),
            "message": segments,
            "raw_message": message_text(segments),
            "font": 0,
        }

    async def send_private_message(
        self,
        user_id: int,
        message: str | list[dict[str, Any]],
        nickname: str | None = None,
    ) -> dict[str, Any]:
        """Deliver a private (friend) message from ``user_id`` to the bot."""
        event = self._base_message_event(message)
        event.update(
            message_type="private",
            sub_type="friend",
            user_id=user_id,
            sender={"user_id": user_id, "nickname": nickname or f"user{user_id}"},
        )
        return await self._send_event(event)

    async def send_group_message(
        self,
        group_id: int,
        user_id: int,
        message: str | list[dict[str, Any]],
        nickname: str | None = None,
        role: str = "member",
        at_bot: bool = False,
    ) -> dict[str, Any]:
        """Deliver a group message; ``at_bot`` prefixes an @mention of the bot."""
        if isinstance(message, str):
            message = text_segments(message)
        if at_bot:
            message = [{"type": "at", "data": {"qq": str(self.self_id)}}, *message]
        event = self._base_message_event(message)
        event.update(
            message_type="group",
            sub_type="normal",
            group_id=group_id,
            user_id=user_id,
            anonymous=None,
            sender={
                "user_id": user_id,
                "nickname": nickname or f"user{user_id}",
                "card": "",
                "role": role,
            },
        )
        return await self._send_event(event)
