"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1.

Configured in AstrBot as an ``openai_chat_completion`` provider, it lets tests
drive LLM-dependent paths deterministically: each request pops the next scripted
reply (plain text or tool calls) and is recorded (messages and offered tools) so
tests can assert on the prompt AstrBot built.

Runs on whichever event loop calls :meth:`FakeLLM.start` (the harness uses
AstrBot's loop).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_MODEL = "fake-model"


@dataclass(frozen=True)
class ToolCall:
    """A function call the fake model asks AstrBot to execute."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """One scripted model turn: text, tool calls, or both."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    delay: float = 0.0
    """Seconds the server waits before answering (a slow model)."""
    status: int = 200
    """An HTTP error status (429, 500, ...) answers with an OpenAI-style error instead."""

    @staticmethod
    def calling(*calls: ToolCall, text: str | None = None) -> Reply:
        return Reply(text=text, tool_calls=tuple(calls))


@dataclass
class LLMRequest:
    """A chat-completions request the fake received."""

    body: dict[str, Any]
    at: float = field(default_factory=time.time)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name", "") for t in self.tools]

    def tool(self, name: str) -> dict[str, Any] | None:
        """The offered function schema called ``name``, if any."""
        for t in self.tools:
            if t.get("function", {}).get("name") == name:
                return t["function"]
        return None

    @property
    def last_user_text(self) -> str:
        """Text of the last user message (``content`` may be a list of parts)."""
        for msg in reversed(self.messages):
            if msg.get("role") == "user":
                return content_text(msg.get("content"))
        return ""


def content_text(content: Any) -> str:
    """Flatten OpenAI message content (string or list of parts) to text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(
        str(part.get("text", ""))
        for part in content
        if isinstance(part, dict) and part.get("type") == "text"
    )


ScriptItem = str | Reply | ToolCall | Callable[[LLMRequest], "str | Reply | ToolCall"]


class FakeLLM:
    """OpenAI-compatible server answering from a script."""

    def __init__(self, default_reply: str = "OK (fake LLM: no scripted reply left)") -> None:
        self.default_reply = default_reply
        self.requests: list[LLMRequest] = []
        self._script: deque[ScriptItem] = deque()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self._changed: asyncio.Condition | None = None

    @property
    def base_url(self) -> str:
        """The ``api_base`` to configure (includes ``/v1``)."""
        assert self.port is not None, "start() first"
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *items: ScriptItem) -> None:
        """Queue replies; each request consumes one. A callable gets the request."""
        self._script.extend(items)

    def clear(self) -> None:
        """Drop pending scripted replies and recorded requests."""
        self._script.clear()
        self.requests.clear()

    @property
    def pending(self) -> int:
        """Scripted replies not yet consumed."""
        return len(self._script)

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (``port=0`` picks a free port)."""
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[LLMRequest]:
        """Wait until at least ``count`` requests have arrived in total."""
        assert self._changed is not None, "start() first"
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(self.requests) >= count)
        except TimeoutError:
            raise TimeoutError(
                f"fake LLM got {len(self.requests)} request(s), expected {count}"
            ) from None
        return list(self.requests)

    # ------------------------------------------------------------------ handlers

    async def _models(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": DEFAULT_MODEL, "object": "model"}]}
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        req = LLMRequest(body=body)
        self.requests.append(req)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

        reply = self._next_reply(req)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            return web.json_response(
                {"error": {"message": reply.text or "fake LLM error", "type": "server_error"}},
                status=reply.status,
            )
        model = str(body.get("model") or DEFAULT_MODEL)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{next(self._ids)}",
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in reply.tool_calls
            ]
        finish = "tool_calls" if reply.tool_calls else "stop"
        if body.get("stream"):
            return await self._stream(request, model, message, finish)
        return web.json_response(
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    def _next_reply(self, req: LLMRequest) -> Reply:
        item: Any = self._script.popleft() if self._script else self.default_reply
        if callable(item) and not isinstance(item, Reply | ToolCall):
            item = item(req)
        if isinstance(item, str):
            return Reply(text=item)
        if isinstance(item, ToolCall):
            return Reply(tool_calls=(item,))
        return item

    async def _stream(
        self,
        request: web.Request,
        model: str,
        message: dict[str, Any],
        finish: str,
    ) -> web.StreamResponse:
        """Server-sent-events variant: the whole reply in one delta chunk."""
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        base = {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        delta = dict(message)
        if "tool_calls" in delta:
            delta["tool_calls"] = [{"index": i, **c} for i, c in enumerate(delta["tool_calls"])]
        chunks = [
            {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
            {
                **base,
                "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        ]
        for chunk in chunks:
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp
