"""What the fake cloud chat services (Slack, Lark, Discord) share: an aiohttp server on
127.0.0.1, a record of every API call AstrBot made, waiting on those records, and faults
injected into chosen calls so delivery failures can be tested.

Each fake subclasses :class:`CloudPeer`, adds its routes in :meth:`CloudPeer.routes` and
records calls with :meth:`CloudPeer.record`. A fake serves on the loop that starts it
(the harness's), or with ``own_loop`` on a loop thread of its own: an SDK that makes
blocking HTTP calls on AstrBot's loop (lark_oapi uses ``requests``) would otherwise wait
for a server that cannot answer. Waiting on records polls, so it works from any loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


async def serve_on_loopback(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on 127.0.0.1 (``port=0``: a free port); returns the runner (for
    ``cleanup()``) and the port. Handlers are cancelled when their client goes away."""
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    server = site._server
    assert server is not None and server.sockets  # type: ignore[attr-defined]
    return runner, int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ApiCall:
    """One request AstrBot made to a fake cloud service."""

    method: str
    """HTTP method, or ``WS`` for a frame AstrBot sent over the event socket."""
    path: str
    """URL path (``/api/chat.postMessage``, ``/api/v10/channels/1/messages``…)."""
    body: dict[str, Any]
    status: int = 200
    """HTTP status the fake answered with."""
    chat: str = ""
    """Where a message went (channel / chat id), for calls that post one."""
    text: str = ""
    """The text of a posted message."""
    monotonic: float = field(default_factory=time.monotonic)

    @property
    def delivered(self) -> bool:
        """A message the fake accepted (2xx) into :attr:`chat`."""
        return bool(self.chat) and 200 <= self.status < 300


@dataclass
class Fault:
    """Answer the next ``times`` calls whose ``METHOD path`` matches ``pattern`` with an
    error instead of the normal answer (``status`` and a platform-shaped ``body``)."""

    pattern: str
    status: int
    body: dict[str, Any]
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and re.search(self.pattern, f"{method} {path}") is not None


class CloudPeer:
    """Base of the fake cloud services: lifecycle, call records and faults."""

    platform_type = ""
    """AstrBot adapter type this fake serves (``discord``, ``slack``, ``lark``)."""
    own_loop = False
    """Serve on a loop thread of its own instead of the caller's loop."""
    login_path = ""
    """The call :attr:`login_gate` holds: the adapter's first step of logging in."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self.faults: list[Fault] = []
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        """Open event sockets (gateway, Socket Mode, long connection)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._serving_loop: asyncio.AbstractEventLoop | None = None
        self.private_chats: dict[str, str] = {}
        """Private chat (DM) id -> the user it is with; see :meth:`private_chat`."""
        self.login_gate = asyncio.Event()
        """The adapter's login is answered only while this is set (see each fake's
        ``login`` step); use :meth:`hold_login` / :meth:`release_login` from any thread."""
        self.login_gate.set()

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        assert self.port is not None, "start() first"
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (``port=0`` picks a free port; a restart passes the old one)."""
        if self.own_loop and self._thread is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name=type(self).__name__)
            self._thread.daemon = True
            self._thread.start()
            self._loop = loop
        await self.in_peer(self._serve(port))

    async def in_peer[R](self, coro: Coroutine[object, object, R]) -> R:
        """Run ``coro`` on the fake's own loop (at once when that is the caller's loop)."""
        if self._loop is None or self._loop is asyncio.get_running_loop():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    async def _serve(self, port: int) -> None:
        self._serving_loop = asyncio.get_running_loop()
        app = web.Application()
        self.routes(app)
        self._runner, self.port = await serve_on_loopback(app, port)

    async def stop(self) -> None:
        await self.in_peer(self._shutdown())
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = self._thread = None

    async def _shutdown(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def private_chat(self, user: str, new_id: Callable[[], str]) -> str:
        """The private chat between the bot and ``user``, opened (as ``new_id()``) on
        first use, as the platforms do."""
        for chat, other in self.private_chats.items():
            if other == user:
                return chat
        chat = new_id()
        self.private_chats[chat] = user
        return chat

    # ------------------------------------------------------------------- login

    def hold_login(self) -> None:
        """Keep a (re)starting adapter from logging in until :meth:`release_login`."""
        self._on_serving_loop(self.login_gate.clear)

    def release_login(self) -> None:
        self._on_serving_loop(self.login_gate.set)

    def _on_serving_loop(self, action: Callable[[], None]) -> None:
        loop = self._serving_loop
        if loop is None or not loop.is_running():
            action()
        else:
            loop.call_soon_threadsafe(action)

    def logged_in(self) -> None:
        """Record that the adapter's event channel is up (``WS connected``)."""
        self.record(ApiCall("WS", "connected", {}))

    def login_answered(self, since: int = 0) -> int | None:
        """Index of the first answer to :attr:`login_path` from ``since``, if any."""
        for index in range(since, len(self.calls)):
            if self.calls[index].path == self.login_path:
                return index
        return None

    @property
    def logins(self) -> int:
        """How many times an adapter connected its event channel."""
        return sum(1 for c in self.calls if c.method == "WS" and c.path == "connected")

    # ------------------------------------------------------------------ records

    def record(self, call: ApiCall) -> ApiCall:
        self.calls.append(call)
        return call

    def mark(self) -> int:
        """Index to pass as ``since`` so a later wait ignores earlier calls."""
        return len(self.calls)

    def delivered(self, since: int = 0, chat: str | None = None) -> list[ApiCall]:
        """Messages the fake accepted from index ``since`` (into ``chat`` if given)."""
        return [c for c in self.calls[since:] if c.delivered and (chat is None or c.chat == chat)]

    def texts(self, since: int = 0, chat: str | None = None) -> list[str]:
        return [c.text for c in self.delivered(since, chat)]

    async def wait_for_call(
        self, predicate: Callable[[ApiCall], bool], *, timeout: float = 15.0, since: int = 0
    ) -> ApiCall:
        """The first call from index ``since`` that matches ``predicate``."""
        deadline = time.monotonic() + timeout
        checked = since
        while True:
            for call in self.calls[checked:]:
                if predicate(call):
                    return call
                checked += 1
            if time.monotonic() > deadline:
                seen = [(c.method, c.path, c.status, c.chat, c.text) for c in self.calls[since:]]
                raise TimeoutError(f"nothing matching within {timeout}s; calls: {seen}")
            await asyncio.sleep(0.05)

    async def wait_for_message(
        self, chat: str, text: str, *, timeout: float = 15.0, since: int = 0, prefix: bool = False
    ) -> ApiCall:
        """The first accepted message into ``chat`` whose text is ``text`` (or starts with
        it, with ``prefix``: command replies)."""

        def match(call: ApiCall) -> bool:
            same = call.text.startswith(text) if prefix else call.text == text
            return call.delivered and call.chat == chat and same

        return await self.wait_for_call(match, timeout=timeout, since=since)

    # ------------------------------------------------------------------- faults

    def fail(self, pattern: str, status: int, body: dict[str, Any], times: int = 1) -> Fault:
        """Make the next ``times`` calls matching ``pattern`` (a regex on ``"METHOD
        /path"``) answer ``status`` with ``body``; returns the fault (``times`` counts down)."""
        fault = Fault(pattern, status, body, times)
        self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The fault that answers this call, if any (its count goes down by one)."""
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                return fault
        return None

    def clear_faults(self) -> None:
        self.faults.clear()
