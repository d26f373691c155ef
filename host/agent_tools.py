"""What an agent run may send, and the ``send_message_to_user`` tool it sends it with.

Every message a run sends (tool calls, the final answer, a plugin tool replying
directly) goes through one ``RunSender``, so the run knows what it delivered, never
sends the same text twice and stops at ``max_messages_per_run``. AstrBot core has its
own ``send_message_to_user``; inside the plugin's runs this one replaces it, because
the core tool neither tracks nor limits what it sends.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from astrbot.api import logger
from astrbot.core.agent.tool import FunctionTool
from pydantic import Field
from pydantic.dataclasses import dataclass

from ..core.models import Delivery
from .delivery import DeliveryError, send, send_with_retries
from .file_access import MediaAccess, MediaRefused, media_access_for
from .messages import build_chain

if TYPE_CHECKING:
    from astrbot.api.event import MessageChain
    from astrbot.api.star import Context

SEND_TOOL_NAME = "send_message_to_user"


class SendResult(enum.Enum):
    SENT = "sent"
    DUPLICATE = "duplicate"  # the same message was already sent in this run
    LIMIT = "limit"  # max_messages_per_run reached
    EMPTY = "empty"


class RunSender:
    """Sends one run's messages to its target session: tracked, deduplicated, limited."""

    def __init__(
        self,
        context: Context,
        session: str,
        limit: int,
        on_delivered: Callable[[Delivery], None] | None = None,
    ) -> None:
        self.context = context
        self.session = session
        self.limit = max(0, limit)
        self.on_delivered = on_delivered
        self.sent: list[str] = []  # the text of every message that went out, in order
        self.errors: list[str] = []  # failed sends, for the run's record
        self.confirmed = 0  # sends the platform acknowledged (the rest: unknown)
        self._keys: set[tuple[str, tuple[str, ...]]] = set()

    @property
    def count(self) -> int:
        return len(self.sent)

    @property
    def delivered(self) -> bool:
        return bool(self.sent)

    @property
    def delivery(self) -> Delivery:
        """What went out: ``delivered`` once the platform acknowledged a message, else
        ``unknown`` (its adapter can not tell; host/platform_truth.py)."""
        return Delivery.DELIVERED if self.confirmed else Delivery.UNKNOWN

    def already_sent(self, text: str, media: Sequence[str] = ()) -> bool:
        return _key(text, media) in self._keys

    async def send(self, text: str, media: Sequence[str] = ()) -> SendResult:
        """Send ``text`` (+ media); raises DeliveryError when the platform refuses."""
        text = (text or "").strip()
        media = [m.strip() for m in media if m and m.strip()]
        if not text and not media:
            return SendResult.EMPTY
        key = _key(text, media)
        if key in self._keys:
            return SendResult.DUPLICATE
        if self.count >= self.limit:
            return SendResult.LIMIT
        try:
            delivery = await send_with_retries(
                self.context, self.session, lambda: build_chain(text, media)
            )
        except DeliveryError as exc:
            self.errors.append(str(exc))
            raise
        self._record(key, text, media, delivery)
        return SendResult.SENT

    async def send_chain(self, chain: MessageChain) -> SendResult:
        """A chain built by someone else (a plugin tool replying directly)."""
        text = chain.get_plain_text() if hasattr(chain, "get_plain_text") else ""
        text = (text or "").strip()
        key = _key(text or f"<chain {id(chain)}>", ())
        if text and key in self._keys:
            return SendResult.DUPLICATE
        if self.count >= self.limit:
            return SendResult.LIMIT
        try:
            delivery = await send(self.context, self.session, chain)
        except DeliveryError as exc:
            self.errors.append(str(exc))
            raise
        self._record(key, text or "[media]", (), delivery)
        return SendResult.SENT

    def _record(
        self,
        key: tuple[str, tuple[str, ...]],
        text: str,
        media: Sequence[str],
        delivery: Delivery,
    ) -> None:
        """A send that went out (``delivered``) or may have (``unknown``)."""
        self.confirmed += delivery == Delivery.DELIVERED
        self._keys.add(key)
        self.sent.append(text if not media else f"{text} [{len(media)} attachment(s)]".strip())
        if self.on_delivered is not None:
            try:
                self.on_delivered(delivery)
            except Exception:  # recording must never undo a send that happened
                logger.exception("[future tasks] recording a delivery failed")


def _key(text: str, media: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    return ((text or "").strip(), tuple(m.strip() for m in media))


_DESCRIPTION = (
    "Send a message to the user of this scheduled task right now (text, optionally with "
    "images, files, audio or video). Use it for progress or intermediate results; your "
    "final answer is delivered to the user automatically, so do not send it twice. "
    "Each run may send only a limited number of messages."
)


@dataclass
class SendMessageToUserTool(FunctionTool):
    """The plugin's in-run ``send_message_to_user``: sends to the run's delivery target."""

    name: str = SEND_TOOL_NAME
    description: str = _DESCRIPTION
    parameters: dict = Field(
        default_factory=lambda: {
            "type": "object",
            "properties": {
                "text": {
                    "type": "string",
                    "description": "The message text. May be empty when only media is sent.",
                },
                "media": {
                    "type": "array",
                    "description": (
                        "Optional attachments: local file paths or http(s) URLs. The kind "
                        "(image, audio, video, file) is taken from the file extension. Local "
                        "files must be in the chat's workspace (relative paths are read "
                        "there) or AstrBot's temp folder, unless the task's owner is an admin."
                    ),
                    "items": {"type": "string"},
                },
            },
            "required": ["text"],
            "additionalProperties": False,
        }
    )
    sender: Any = None  # the run's RunSender

    async def call(self, context: Any, **kwargs: Any) -> str:
        sender: RunSender | None = self.sender
        if sender is None:
            return "error: this tool is only available inside a scheduled task run."
        text = kwargs.get("text")
        text = "" if text is None else str(text)
        media = kwargs.get("media") or []
        if isinstance(media, str):
            media = [media]
        if not isinstance(media, list):
            return "error: `media` must be a list of file paths or URLs."
        media = [str(m) for m in media if str(m).strip()]
        try:
            media = run_media_access(context, sender).check_all(media)
        except MediaRefused as exc:
            return f"error: {exc} Nothing was sent."
        try:
            result = await sender.send(text, media)
        except DeliveryError as exc:
            return f"error: the message could not be sent: {exc}"
        if result is SendResult.EMPTY:
            return "error: nothing to send: give `text` or `media`."
        if result is SendResult.DUPLICATE:
            return "This exact message was already sent in this run; it was not sent again."
        if result is SendResult.LIMIT:
            return (
                f"error: message limit reached: a scheduled run may send at most "
                f"{sender.limit} messages. Nothing more can be sent in this run; "
                "finish with a short final answer."
            )
        return f"Sent ({sender.count} of at most {sender.limit} messages in this run)."


def run_media_access(tool_context: Any, sender: RunSender) -> MediaAccess:
    """AstrBot's file rule for the run calling the tool: the role and chat of the run's
    event (the job owner's role); a member's rule when the event can not be read."""
    event = getattr(getattr(tool_context, "context", None), "event", None)
    role = str(getattr(event, "role", "member") or "member")
    umo = str(getattr(event, "unified_msg_origin", "") or sender.session)
    return media_access_for(sender.context, umo, role)
