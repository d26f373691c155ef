"""A fake Telegram Bot API server for integration tests.

AstrBot's ``telegram`` adapter is python-telegram-bot (PTB) polling
``<base_url><token>/<method>``. Point ``telegram_api_base_url`` at
:attr:`FakeTelegram.api_base_url` (``http://127.0.0.1:<port>/bot``; PTB appends the
token) and ``telegram_file_base_url`` at :attr:`FakeTelegram.file_base_url`.

The fake answers the methods the adapter calls at startup (``getMe``,
``deleteWebhook``, ``deleteMyCommands``/``setMyCommands``, ``getUpdates``), when
sending (``sendChatAction``, ``sendMessage``, ``sendPhoto``, ...) and when handling
events (``getChat``, ``getFile``, ``setMessageReaction``, ...). Every call is
recorded as a :class:`TgCall`. Tests inject inbound messages with
:meth:`FakeTelegram.push_private_message` / :meth:`FakeTelegram.push_group_message`;
they are handed out through ``getUpdates`` with Telegram's offset/timeout
semantics (long polling).

Requests arrive as form-urlencoded (PTB's default: strings raw, everything else
JSON-encoded), multipart (file uploads) or JSON; all are decoded into
:attr:`TgCall.params`.

Texts AstrBot sends are MarkdownV2 (``parse_mode="MarkdownV2"``, produced by
``telegramify_markdown``): ``TgCall.text`` is the raw text as sent,
``TgCall.plain_text`` the unescaped form (see :func:`unescape_markdown_v2`).

All coroutines must run on one event loop (the harness uses AstrBot's loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from tests.integration.fakes.cloud import serve_on_loopback
from tests.integration.fakes.recording import wait_for_record

DEFAULT_TOKEN = "123456:TESTTOKEN"
DEFAULT_BOT_USERNAME = "future_tasks_test_bot"

SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendAudio",
        "sendVoice",
        "sendVideo",
        "sendAnimation",
        "sendVideoNote",
        "sendSticker",
        "sendMediaGroup",
        "sendLocation",
        "sendContact",
        "sendPoll",
        "sendDice",
    }
)
"""Methods that put a new message into a chat (what :meth:`FakeTelegram.sent` returns)."""

# Form-encoded parameters PTB sends as raw strings (everything else is JSON-encoded).
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "action",
        "filename",
        "emoji",
        "description",
        "short_description",
        "name",
        "title",
        "url",
        "file_id",
        "language_code",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "secret_token",
        "query",
    }
)

_MARKDOWN_V2_ESCAPE = re.compile(r"\\([_*\[\]()~`>#+\-=|{}.!\\])")

KNOWN_METHODS = frozenset(
    {
        *SEND_METHODS,
        "getMe",
        "getUpdates",
        "deleteWebhook",
        "setWebhook",
        "getWebhookInfo",
        "setMyCommands",
        "deleteMyCommands",
        "getMyCommands",
        "sendChatAction",
        "sendMessageDraft",
        "getChat",
        "getChatMember",
        "getChatMemberCount",
        "getChatAdministrators",
        "getFile",
        "editMessageText",
        "editMessageCaption",
        "deleteMessage",
        "setMessageReaction",
        "close",
        "logOut",
    }
)


def unescape_markdown_v2(text: str) -> str:
    r"""Undo MarkdownV2 escaping: ``a\.b \(c\)\!`` -> ``a.b (c)!``.

    Only backslash escapes are removed; formatting markers that
    ``telegramify_markdown`` produces (``*bold*``, list bullets ``⦁``) stay.
    """
    return _MARKDOWN_V2_ESCAPE.sub(r"\1", text)


class TgApiError(Exception):
    """Raise from a responder to make the fake answer ``{"ok": false, ...}``.

    PTB maps ``error_code`` 400 to ``BadRequest``, 403 to ``Forbidden``, 401/404 to
    ``InvalidToken``, 429 with ``retry_after`` to ``RetryAfter``, others to
    ``NetworkError``.
    """

    def __init__(
        self,
        error_code: int = 400,
        description: str = "Bad Request",
        retry_after: int | None = None,
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after


Responder = Callable[[dict[str, Any]], Any]
"""Computes the ``result`` of a call from its params; raise :class:`TgApiError` to fail it."""


@dataclass(frozen=True)
class UploadedFile:
    """A multipart file part (e.g. the ``photo`` of ``sendPhoto``)."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class TgCall:
    """One Bot API request AstrBot made to the fake."""

    method: str
    """Method name as in the URL (PTB uses camelCase, e.g. ``sendMessage``)."""
    params: dict[str, Any]
    files: dict[str, UploadedFile] = field(default_factory=dict)
    at: float = field(default_factory=time.time)
    """Wall-clock time (``time.time()``) when the fake received it."""
    monotonic: float = field(default_factory=time.monotonic)
    known: bool = True
    """False for a method the fake does not implement (answered with ``true``)."""

    @property
    def text(self) -> str:
        """Raw ``text`` (or ``caption``) as sent, MarkdownV2 escapes included."""
        value = self.params.get("text")
        if value is None:
            value = self.params.get("caption")
        return "" if value is None else str(value)

    @property
    def plain_text(self) -> str:
        """:attr:`text` with MarkdownV2 escapes removed when ``parse_mode`` is MarkdownV2.

        A trailing newline that ``telegramify_markdown`` sometimes appends is dropped.
        """
        if str(self.params.get("parse_mode", "")).lower() == "markdownv2":
            return unescape_markdown_v2(self.text).rstrip("\n")
        return self.text

    @property
    def chat_id(self) -> int | str | None:
        """``chat_id`` as int when numeric (``@channel`` names stay strings)."""
        return _maybe_int(self.params.get("chat_id"))

    @property
    def message_thread_id(self) -> int | None:
        value = _maybe_int(self.params.get("message_thread_id"))
        return value if isinstance(value, int) else None

    @property
    def is_send(self) -> bool:
        return self.method in SEND_METHODS


def _maybe_int(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def _decode_form_value(name: str, value: str) -> Any:
    """PTB form-encodes strings raw and every other type as JSON."""
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _chat_type(chat_id: int | str) -> str:
    if isinstance(chat_id, str):
        return "channel"
    if chat_id > 0:
        return "private"
    return "supergroup" if str(chat_id).startswith("-100") else "group"


class FakeTelegram:
    """Telegram Bot API on 127.0.0.1 for one bot token."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        username: str = DEFAULT_BOT_USERNAME,
        first_name: str = "FutureTasksTestBot",
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.username = username
        self.first_name = first_name
        self.calls: list[TgCall] = []
        self.responders: dict[str, Responder] = {}
        """Per-method overrides (by camelCase name); return ``result`` or raise TgApiError."""
        self.commands: list[dict[str, Any]] = []
        """Last list passed to ``setMyCommands`` (cleared by ``deleteMyCommands``)."""
        self.updates_pushed: list[dict[str, Any]] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        """``file_id`` -> (``file_path``, content), served by ``getFile`` and the file URL."""
        self.chats: dict[int | str, dict[str, Any]] = {}
        """Chats seen in pushed updates, used to answer ``getChat``."""
        self.port: int | None = None
        self._pending: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._changed: asyncio.Condition | None = None
        self._closing = False

    # ----------------------------------------------------------------- lifecycle

    @property
    def api_base_url(self) -> str:
        """Value for ``telegram_api_base_url``; PTB appends the token to it."""
        assert self.port is not None, "start() first"
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_base_url(self) -> str:
        """Value for ``telegram_file_base_url``; PTB appends the token to it."""
        assert self.port is not None, "start() first"
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (``port=0`` picks a free port)."""
        self._changed = asyncio.Condition()
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # Handler cancellation: a long poll ends when PTB drops the connection.
        self._runner, self.port = await serve_on_loopback(app, port)

    async def stop(self) -> None:
        """Release pending long polls and stop listening (idempotent)."""
        self._closing = True
        await self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ records

    def mark(self) -> int:
        """Index to pass as ``since`` so a later wait ignores earlier calls."""
        return len(self.calls)

    def sent(self, since: int = 0) -> list[TgCall]:
        """``send*`` calls (new messages, not chat actions) from index ``since``."""
        return [c for c in self.calls[since:] if c.is_send]

    def calls_to(self, method: str, since: int = 0) -> list[TgCall]:
        return [c for c in self.calls[since:] if c.method == method]

    @property
    def unknown_calls(self) -> list[TgCall]:
        """Calls to methods this fake does not implement (answered ``true``)."""
        return [c for c in self.calls if not c.known]

    async def wait_for_call(
        self,
        predicate: Callable[[TgCall], bool],
        timeout: float = 10.0,
        since: int = 0,
    ) -> TgCall:
        """Return the first call (from index ``since``) matching ``predicate``.

        Already-recorded calls count, so there is no race between triggering a send
        and starting to wait. Raises ``TimeoutError`` listing what did arrive.
        """
        assert self._changed is not None, "start() first"
        return await wait_for_record(
            self.calls,
            self._changed,
            predicate,
            timeout=timeout,
            since=since,
            describe=lambda got: (
                "Telegram calls (getUpdates omitted): "
                + str([(c.method, c.params) for c in got if c.method != "getUpdates"])
            ),
        )

    async def wait_for_send(
        self,
        chat_id: int | str | None = None,
        text: str | None = None,
        timeout: float = 10.0,
        since: int = 0,
        method: str | None = None,
    ) -> TgCall:
        """Shortcut: first ``send*`` call to ``chat_id`` whose plain text equals ``text``."""

        def match(c: TgCall) -> bool:
            return (
                c.is_send
                and (method is None or c.method == method)
                and (chat_id is None or str(c.chat_id) == str(chat_id))
                and (text is None or c.plain_text == text)
            )

        return await self.wait_for_call(match, timeout=timeout, since=since)

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    # ---------------------------------------------------------------- inbound

    async def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw ``Update`` (``update_id`` is assigned if missing)."""
        update.setdefault("update_id", next(self._update_ids))
        self.updates_pushed.append(update)
        self._pending.append(update)
        await self._notify()
        return update

    def _user(self, user_id: int, username: str | None, first_name: str | None) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or f"User{user_id}",
            "language_code": "en",
        }
        if username != "":
            user["username"] = username or f"user{user_id}"
        return user

    def _message(self, chat: dict[str, Any], sender: dict[str, Any], text: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        entities = command_entities(text)
        if entities:
            message["entities"] = entities
        return message

    async def push_private_message(
        self,
        user_id: int,
        text: str,
        username: str | None = None,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        """A private chat message from ``user_id`` (chat id == user id).

        ``username=None`` gives ``user<id>``; ``username=""`` sends none.
        """
        sender = self._user(user_id, username, first_name)
        chat = {"id": user_id, "type": "private", "first_name": sender["first_name"]}
        if "username" in sender:
            chat["username"] = sender["username"]
        self.chats[user_id] = chat
        return await self.push_update({"message": self._message(chat, sender, text)})

    async def push_group_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        message_thread_id: int | None = None,
        is_forum: bool = False,
        username: str | None = None,
        first_name: str | None = None,
        title: str | None = None,
        reply_to_bot: bool = False,
    ) -> dict[str, Any]:
        """A supergroup message; with ``message_thread_id`` it is a forum-topic message.

        A topic message carries ``message_thread_id``, ``is_topic_message`` and (as
        Telegram does) ``reply_to_message`` = the topic's creation service message.
        ``reply_to_bot`` makes it a reply to an earlier bot message instead (AstrBot
        treats that like an @mention).
        """
        sender = self._user(user_id, username, first_name)
        forum = is_forum or message_thread_id is not None
        chat: dict[str, Any] = {
            "id": chat_id,
            "type": "supergroup" if str(chat_id).startswith("-100") else "group",
            "title": title or f"Group {chat_id}",
        }
        if forum:
            chat["is_forum"] = True
        self.chats[chat_id] = chat
        message = self._message(chat, sender, text)
        if message_thread_id is not None:
            message["message_thread_id"] = message_thread_id
            message["is_topic_message"] = True
            message["reply_to_message"] = {
                "message_id": message_thread_id,
                "from": sender,
                "chat": chat,
                "date": int(time.time()) - 60,
                "message_thread_id": message_thread_id,
                "forum_topic_created": {
                    "name": f"Topic {message_thread_id}",
                    "icon_color": 7322096,
                },
            }
        elif reply_to_bot:
            message["reply_to_message"] = {
                "message_id": max(1, message["message_id"] - 1),
                "from": self.bot_user,
                "chat": chat,
                "date": int(time.time()) - 5,
                "text": "earlier bot message",
            }
        return await self.push_update({"message": message})

    def add_file(self, content: bytes, file_path: str = "documents/file.bin") -> str:
        """Make a file downloadable via ``getFile``; returns its ``file_id``."""
        file_id = f"FILE{next(self._file_ids)}"
        self.files[file_id] = (file_path, content)
        return file_id

    # ------------------------------------------------------------------ server

    @staticmethod
    def _error(code: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=code)

    async def _parse(self, request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        params: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        for key, value in request.query.items():
            params[key] = _decode_form_value(key, value)
        if request.method != "POST" or not request.can_read_body:
            return params, files
        ctype = request.content_type
        if ctype == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif ctype == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename:
                    data = await part.read(decode=False)
                    files[part.name] = UploadedFile(
                        field=part.name,
                        filename=part.filename,
                        content_type=part.headers.get("Content-Type"),
                        data=bytes(data),
                    )
                else:
                    params[part.name] = _decode_form_value(part.name, await part.text())
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = _decode_form_value(key, value)
        # An uploaded file stands for the parameter of the same name (``photo=<upload>``).
        for name in files:
            params.setdefault(name, f"attach://{name}")
        return params, files

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        raw_method = request.match_info["method"]
        method = _canonical(raw_method)
        try:
            params, files = await self._parse(request)
        except Exception as exc:
            return self._error(400, f"Bad Request: cannot parse parameters: {exc}")
        call = TgCall(method=method, params=params, files=files, known=method in KNOWN_METHODS)
        self.calls.append(call)
        await self._notify()
        try:
            # a responder may fail the call, answer it, or return None for the default
            responder = self.responders.get(method)
            result = responder(params) if responder else None
            if result is None and method == "getUpdates":
                result = await self._get_updates(params)
            elif result is None:
                result = self._respond(method, params, files)
        except TgApiError as exc:
            return self._error(exc.error_code, exc.description, exc.retry_after)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        path = request.match_info["path"]
        for file_path, content in self.files.values():
            if file_path == path:
                return web.Response(body=content, content_type="application/octet-stream")
        return self._error(404, "Not Found")

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Telegram semantics: ``offset`` confirms updates below it; wait up to ``timeout``."""
        offset = params.get("offset")
        if isinstance(offset, int):
            if offset < 0:
                self._pending = self._pending[offset:]
            else:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
        limit = params.get("limit")
        limit = limit if isinstance(limit, int) and 1 <= limit <= 100 else 100
        timeout = params.get("timeout")
        timeout = float(timeout) if isinstance(timeout, int | float) else 0.0
        if not self._pending and timeout > 0 and not self._closing:
            assert self._changed is not None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout), self._changed:
                    while not self._pending and not self._closing:
                        await self._changed.wait()
        return list(self._pending[:limit])

    def _new_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = _maybe_int(params.get("chat_id"))
        chat = dict(self.chats.get(chat_id) or {"id": chat_id, "type": _chat_type(chat_id)})
        if chat["type"] == "private":
            chat.setdefault("first_name", f"User{chat_id}")
        else:
            chat.setdefault("title", f"Group {chat_id}")
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        thread_id = _maybe_int(params.get("message_thread_id"))
        if isinstance(thread_id, int):
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if params.get("caption") is not None:
            message["caption"] = str(params["caption"])
        message.update(content)
        return message

    def _file_obj(self, kind: str, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        n = next(self._file_ids)
        upload = files.get(kind)
        base: dict[str, Any] = {
            "file_id": f"{kind.upper()}{n}",
            "file_unique_id": f"u{kind}{n}",
            "file_size": len(upload.data) if upload else 0,
        }
        if kind == "photo":
            return [{**base, "width": 640, "height": 480}]
        if kind in ("video", "animation"):
            base.update(width=640, height=480, duration=1)
        elif kind in ("audio", "voice"):
            base["duration"] = 1
        if kind in ("document", "video", "animation", "audio") and upload and upload.filename:
            base["file_name"] = str(params.get("filename") or upload.filename)
        return base

    def _respond(self, method: str, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        if method == "getMe":
            return {
                **self.bot_user,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method in ("deleteWebhook", "setWebhook", "sendChatAction", "sendMessageDraft"):
            return True
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if method == "setMyCommands":
            commands = params.get("commands") or []
            self.commands = list(commands) if isinstance(commands, list) else []
            return True
        if method == "deleteMyCommands":
            self.commands = []
            return True
        if method == "getMyCommands":
            return self.commands
        if method == "sendMessage":
            return self._new_message(params, text=str(params.get("text", "")))
        if method in ("sendPhoto", "sendDocument", "sendAudio", "sendVoice", "sendVideo"):
            kind = method.removeprefix("send").lower()
            return self._new_message(params, **{kind: self._file_obj(kind, params, files)})
        if method == "sendAnimation":
            animation = self._file_obj("animation", params, files)
            return self._new_message(params, animation=animation, document=animation)
        if method in SEND_METHODS:
            return self._new_message(params)
        if method in ("editMessageText", "editMessageCaption"):
            if params.get("inline_message_id"):
                return True
            edited = self._new_message(params, edit_date=int(time.time()))
            edited["message_id"] = _maybe_int(params.get("message_id")) or edited["message_id"]
            if method == "editMessageText":
                edited["text"] = str(params.get("text", ""))
            return edited
        if method in ("setMessageReaction", "deleteMessage", "close", "logOut"):
            return True
        if method == "getChat":
            chat_id = _maybe_int(params.get("chat_id"))
            chat = dict(self.chats.get(chat_id) or {"id": chat_id, "type": _chat_type(chat_id)})
            if chat["type"] != "private":
                chat.setdefault("title", f"Group {chat_id}")
            else:
                chat.setdefault("first_name", f"User{chat_id}")
            chat.update(
                accent_color_id=0,
                max_reaction_count=11,
                accepted_gift_types={
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                },
            )
            return chat
        if method == "getChatMemberCount":
            return 3
        if method == "getChatAdministrators":
            return [
                {
                    "status": "creator",
                    "user": self._user(1, "owner", "Owner"),
                    "is_anonymous": False,
                }
            ]
        if method == "getChatMember":
            user_id = _maybe_int(params.get("user_id"))
            user = self.bot_user if user_id == self.bot_id else self._user(int(user_id), None, None)
            return {"status": "member", "user": user}
        if method == "getFile":
            file_id = str(params.get("file_id", ""))
            if file_id not in self.files:
                raise TgApiError(400, "Bad Request: invalid file_id")
            file_path, content = self.files[file_id]
            return {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(content),
                "file_path": file_path,
            }
        return True


_CANONICAL = {name.lower(): name for name in KNOWN_METHODS}


def _canonical(method: str) -> str:
    """Bot API method names are case-insensitive; record them in camelCase."""
    return _CANONICAL.get(method.lower(), method)


def command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities (UTF-16 offsets) for ``/cmd`` / ``/cmd@bot`` words."""
    entities: list[dict[str, Any]] = []
    for match in re.finditer(r"(?:(?<=\s)|^)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?", text):
        start = len(text[: match.start()].encode("utf-16-le")) // 2
        length = len(match.group().encode("utf-16-le")) // 2
        entities.append({"type": "bot_command", "offset": start, "length": length})
    return entities
