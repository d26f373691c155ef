"""The parts the Satori and Misskey fakes share: an aiohttp server on loopback that records
every API call, answers scripted failures, and keeps the adapter's event WebSocket.

A fake subclasses :class:`HttpPeer`, adds its routes in :meth:`HttpPeer.routes` and answers
API calls in :meth:`HttpPeer.answer`. Tests script failures with :meth:`HttpPeer.fail_next`
(the next N calls of an endpoint answer an HTTP status) and hold the adapter's
"connected" signal back with :attr:`HttpPeer.ready_gate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.integration.fakes.recording import wait_for_record


@dataclass
class ApiCall:
    """One HTTP API call the adapter made, and the status the fake answered."""

    path: str
    body: dict[str, Any]
    status: int = 200
    monotonic: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200


class HttpPeer:
    """Base of a loopback chat service: HTTP API + one event WebSocket."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self.failures: dict[str, list[int]] = {}
        self.ready_gate = asyncio.Event()
        """Cleared: the service accepts the WebSocket but does not say "ready" yet."""
        self.ready_gate.set()
        self.sockets: list[web.WebSocketResponse] = []
        self.accepting = True
        """False: the event WebSocket is refused (503), as while the service is down."""
        self.connections = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---------------------------------------------------------------- server

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def answer(self, path: str, body: dict[str, Any]) -> Any:
        """The JSON body answering a successful call of ``path``."""
        raise NotImplementedError

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.drop_connections()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle_api(self, request: web.Request) -> web.Response:
        """Record the call; answer a scripted failure or :meth:`answer`."""
        path = request.path
        try:
            body = await request.json()
        except (json.JSONDecodeError, ValueError):
            body = {}
        scripted = self.failures.get(path)
        status = scripted.pop(0) if scripted else 200
        await self._record(ApiCall(path, body if isinstance(body, dict) else {}, status))
        if status != 200:
            return web.json_response({"error": {"message": f"scripted {status}"}}, status=status)
        return web.json_response(await self.answer(path, body))

    async def keep_socket(
        self, request: web.Request, on_text: Callable[[web.WebSocketResponse, Any], Any]
    ) -> web.WebSocketResponse:
        """Serve one event WebSocket until it closes; ``on_text`` gets each JSON frame."""
        if not self.accepting:
            raise web.HTTPServiceUnavailable()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        self.connections += 1
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    await on_text(ws, json.loads(frame.data))
        finally:
            self.sockets.remove(ws)
        return ws

    async def drop_connections(self) -> None:
        """Close every event WebSocket (the adapter then reconnects by itself)."""
        for ws in list(self.sockets):
            await ws.close()

    async def broadcast(self, payload: dict[str, Any]) -> None:
        for ws in list(self.sockets):
            await ws.send_str(json.dumps(payload))

    # ---------------------------------------------------------------- tests

    def fail_next(self, path: str, *statuses: int) -> None:
        """The next calls of ``path`` answer ``statuses`` in turn, then succeed again."""
        self.failures.setdefault(path, []).extend(statuses)

    def mark(self) -> int:
        return len(self.calls)

    def calls_to(self, path: str, since: int = 0) -> list[ApiCall]:
        return [c for c in self.calls[since:] if c.path == path]

    async def wait_for_call(
        self, predicate: Callable[[ApiCall], bool], *, timeout: float = 15, since: int = 0
    ) -> ApiCall:
        return await wait_for_record(
            self.calls,
            self._changed,
            predicate,
            timeout=timeout,
            since=since,
            describe=lambda calls: f"calls: {[(c.path, c.status, c.body) for c in calls]}",
        )

    async def wait_connected(self, timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while not self.sockets:
                await asyncio.sleep(0.05)

    async def _record(self, call: ApiCall) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
