"""The two agent run modes of a job (SPEC §4): ``main`` and ``isolated``.

- **main**: the event is handed to the host's agent in the owner's conversation, with
  its history and persona; the reply goes to the delivery target and the exchange is
  appended to that conversation, so the next chat turn knows about it. With the
  heartbeat on, ``next-heartbeat`` events wait in the store and one turn per chat
  handles all of them together.
- **isolated**: a fresh agent turn every run, with the user's plugin/MCP tools; its
  final answer is delivered and a summary is posted into the owner's conversation.

Both run through ``Context.tool_loop_agent`` with a tool set built here: the user's
active plugin and MCP tools, minus every scheduler tool (a job's run can not create
jobs), plus the plugin's own ``send_message_to_user``. Every message a run sends goes
through one ``RunSender``, so delivery is tracked, deduplicated and limited.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from astrbot.api import logger
from astrbot.core.agent.tool import ToolSet
from astrbot.core.cron.events import CronMessageEvent
from astrbot.core.platform.astrbot_message import MessageMember
from astrbot.core.platform.message_session import MessageSession
from astrbot.core.platform.message_type import MessageType
from astrbot.core.utils.session_lock import session_lock_manager

from ..core.engine import RunContext
from ..core.models import Delivery, Job, Owner, RunStatus
from ..core.policy import Outcome
from ..core.schedule import format_local, utc_now_ms
from ..core.settings import Settings
from ..core.store import Store
from .agent_tools import SEND_TOOL_NAME, RunSender, SendMessageToUserTool, SendResult
from .core_tools import is_scheduler_tool
from .delivery import DeliveryError
from .failures import is_transient

if TYPE_CHECKING:
    from astrbot.api.event import MessageChain
    from astrbot.api.star import Context

SUMMARY_CHARS = 300
HEARTBEAT_QUEUED = "queued for the next heartbeat"

MAIN_NOTE = (
    "You were woken by the scheduler, not by a new message from the user. Handle the "
    "scheduled event below: act on it or relay it to the user. Your final answer is "
    "delivered to the user as a message, so write it for them. You can not create, "
    "change or cancel scheduled tasks from this turn."
)
ISOLATED_NOTE = (
    "You are running as a scheduled task, on your own: nobody is chatting with you "
    "right now. Do what the task asks, using your tools if needed. Your final answer "
    "is delivered to the user as a message, so make it the result itself, short and "
    "complete. Use send_message_to_user only for extra messages such as files or "
    "images. You can not create, change or cancel scheduled tasks from this run."
)


class AgentRunError(RuntimeError):
    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(slots=True)
class _Turn:
    """What one agent turn needs besides its prompt."""

    session: str  # where messages go
    owner: Owner
    provider_umo: str  # the chat whose current provider is the fallback
    provider_id: str | None
    deliver: bool | None
    best_effort: bool
    on_delivered: Callable[[], None] | None
    job_id: str | None = None

    @classmethod
    def of_job(cls, job: Job, run: RunContext, session: str) -> _Turn:
        """The turn of a job's run: its owner's chat, provider and delivery settings."""
        return cls(
            session=session,
            owner=job.owner,
            provider_umo=job.owner.origin,
            provider_id=job.payload.provider_id,
            deliver=job.target.deliver,
            best_effort=job.target.best_effort,
            on_delivered=run.mark_delivered,
            job_id=job.id,
        )


class AgentRunner:
    """Runs ``main`` and ``isolated`` jobs with AstrBot's agent; the executor calls it."""

    def __init__(self, context: Context, settings: Settings, store: Store) -> None:
        self.context = context
        self.settings = settings
        self.store = store

    # ----- main -------------------------------------------------------------------------

    async def run_main(self, job: Job, run: RunContext, session: str) -> Outcome:
        """Hand the event to the agent in the owner's conversation (or queue it for the
        next heartbeat)."""
        text = event_text(job, run)
        if job.payload.wake_mode == "next-heartbeat" and self.settings.heartbeat_minutes > 0:
            await self.store.add_pending_event(job.owner.origin, job.id, text, utc_now_ms())
            return Outcome(RunStatus.OK, Delivery.NOT_REQUESTED, output=HEARTBEAT_QUEUED)
        turn = _Turn.of_job(job, run, session)
        return await self._main_turn(turn, main_prompt([text]))

    async def heartbeat(self) -> None:
        """One heartbeat pass: each chat with waiting events gets one main turn with all of
        them. Events of a turn that failed are put back for the next pass."""
        for origin in await self.store.origins_with_pending_events():
            events = await self.store.take_pending_events(origin)
            if not events:
                continue
            turn = _Turn(
                session=origin,
                owner=Owner(origin=origin, sender_id=origin.rsplit(":", 1)[-1]),
                provider_umo=origin,
                provider_id=None,
                deliver=None,
                best_effort=False,
                on_delivered=None,
            )
            try:
                async with asyncio.timeout(max(1, self.settings.agent_timeout_seconds)):
                    outcome = await self._main_turn(turn, main_prompt(events))
            except TimeoutError:
                outcome = Outcome(
                    RunStatus.TIMEOUT,
                    error=f"timed out after {self.settings.agent_timeout_seconds} s",
                )
            except Exception as exc:  # one chat's failure must not stop the others
                outcome = Outcome(RunStatus.ERROR, error=f"{type(exc).__name__}: {exc}")
                logger.exception("[future tasks] heartbeat turn for %s failed", origin)
            sent = outcome.delivery in (Delivery.DELIVERED, Delivery.UNKNOWN)  # maybe out
            if not outcome.ok and not sent:
                logger.warning(
                    f"[future tasks] heartbeat for {origin} failed ({outcome.error}); "
                    f"{len(events)} event(s) wait for the next heartbeat"
                )
                now = utc_now_ms()
                for event in events:
                    await self.store.add_pending_event(origin, None, event, now)

    async def _main_turn(self, turn: _Turn, prompt: str) -> Outcome:
        origin = turn.owner.origin
        async with session_lock_manager.acquire_lock(origin):  # one turn at a time per chat
            try:
                conversation = await self._conversation(origin)
                history = _load_history(conversation.history)
                persona = await self._conversation_persona(origin, conversation.persona_id)
            except Exception as exc:
                return _error(f"could not read the conversation of {origin}: {exc}", exc)
            system_prompt = _join(_persona_prompt(persona), MAIN_NOTE, _time_note(self.settings))
            contexts = _begin_dialogs(persona) + history
            sender = RunSender(
                self.context, turn.session, self.settings.max_messages_per_run, turn.on_delivered
            )
            try:
                answer = await self._agent(turn, sender, prompt, system_prompt, contexts, persona)
            except AgentRunError as exc:
                return _failed(sender, str(exc), exc.transient)
            outcome = await self._finish(sender, answer, turn)
            if outcome.status == RunStatus.OK:
                reply = answer or "\n".join(sender.sent)
                try:
                    await self._append(
                        origin,
                        conversation.cid,
                        [{"role": "user", "content": prompt}]
                        + ([{"role": "assistant", "content": reply}] if reply else []),
                    )
                except Exception:
                    logger.exception("[future tasks] could not save the exchange to %s", origin)
            return outcome

    # ----- isolated ---------------------------------------------------------------------

    async def run_isolated(self, job: Job, run: RunContext, session: str) -> Outcome:
        """A fresh agent turn; its answer is delivered and summarized in the main chat."""
        persona_id = job.payload.persona_id or self.settings.default_persona.strip() or None
        persona = None
        if persona_id:
            persona = self.context.persona_manager.get_persona_v3_by_id(persona_id)
            if persona is None:
                return Outcome(
                    RunStatus.ERROR,
                    Delivery.NOT_DELIVERED,
                    error=f"persona {persona_id!r} does not exist in AstrBot; "
                    "choose another one or clear it",
                )
        system_prompt = _join(_persona_prompt(persona), ISOLATED_NOTE, _time_note(self.settings))
        turn = _Turn.of_job(job, run, session)
        sender = RunSender(
            self.context, session, self.settings.max_messages_per_run, run.mark_delivered
        )
        prompt = isolated_prompt(job, run)
        try:
            answer = await self._agent(
                turn, sender, prompt, system_prompt, _begin_dialogs(persona), persona
            )
        except AgentRunError as exc:
            return _failed(sender, str(exc), exc.transient)
        outcome = await self._finish(sender, answer, turn)
        if outcome.status == RunStatus.OK:
            await self._post_to_main(job, answer or "\n".join(sender.sent))
        return outcome

    async def _post_to_main(self, job: Job, text: str) -> None:
        """Tell the owner's main conversation what the isolated run produced."""
        mode = self.settings.post_to_main.strip().lower()
        text = text.strip()
        if mode == "off" or not text:
            return
        body = text if mode == "full" else summarize(text, SUMMARY_CHARS)
        line = f"[{job.id} {job.display_name}] {body}"
        if prefix := self.settings.post_to_main_prefix.strip():
            line = f"{prefix} {line}"
        limit = max(1, self.settings.post_to_main_max_chars)
        line = summarize(line, limit)
        origin = job.owner.origin
        try:
            async with session_lock_manager.acquire_lock(origin):
                conversation = await self._conversation(origin)
                await self._append(
                    origin, conversation.cid, [{"role": "assistant", "content": line}]
                )
        except Exception:  # the run itself succeeded; a missing note must not fail it
            logger.exception("[future tasks] could not post the result of %s to %s", job.id, origin)

    # ----- the agent turn ---------------------------------------------------------------

    async def _agent(
        self,
        turn: _Turn,
        sender: RunSender,
        prompt: str,
        system_prompt: str,
        contexts: list[dict[str, Any]],
        persona: dict[str, Any] | None,
    ) -> str:
        """Run one tool-loop agent turn; its final answer. AgentRunError on failure."""
        try:
            session = MessageSession.from_str(turn.session)
        except Exception as exc:
            raise AgentRunError(
                f"invalid target session {turn.session!r}: {exc}", transient=False
            ) from exc
        cfg = self._config(turn.session)
        event = RunEvent(
            context=self.context,
            session=session,
            message=prompt,
            owner=turn.owner,
            sender=sender,
            role="admin" if turn.owner.sender_id in _admins(cfg) else "member",
            extras={"future_task": {"id": turn.job_id, "session": turn.session}},
        )
        plugin_set = cfg.get("plugin_set", ["*"])
        event.plugins_name = None if not plugin_set or plugin_set == ["*"] else list(plugin_set)
        tools = self.run_tools(sender, persona, event.plugins_name)
        runner_cfg = (cfg.get("agent_runner") or {}).get("config") or {}
        misc = runner_cfg.get("misc") or {}
        model_cfg = runner_cfg.get("model") or {}
        try:
            provider_id = await self._provider_id(turn)
            response = await self.context.tool_loop_agent(
                event=event,
                chat_provider_id=provider_id,
                prompt=prompt,
                tools=tools,
                system_prompt=system_prompt,
                contexts=contexts,
                max_steps=_int(misc.get("max_steps"), 30),
                tool_call_timeout=_int(misc.get("tool_call_timeout"), 120),
                request_max_retries=_int(model_cfg.get("request_max_retries"), 3),
            )
        except AgentRunError:
            raise
        except Exception as exc:
            raise AgentRunError(
                f"the agent run failed: {type(exc).__name__}: {exc}", transient=is_transient(exc)
            ) from exc
        if response is None:
            raise AgentRunError("the agent returned no response", transient=True)
        text = (response.completion_text or "").strip()
        if response.role == "err":
            raise AgentRunError(
                f"the model failed: {text or 'unknown error'}", transient=is_transient(text)
            )
        return text

    def run_tools(
        self,
        sender: RunSender,
        persona: dict[str, Any] | None = None,
        plugins_name: list[str] | None = None,
    ) -> ToolSet:
        """The user's active plugin and MCP tools, minus the scheduler's, plus our
        ``send_message_to_user``; narrowed to the persona's tools when it names some."""
        allowed = persona.get("tools") if persona else None
        tools = ToolSet()
        for tool in self.context.get_llm_tool_manager().get_full_tool_set().tools:
            if not getattr(tool, "active", True) or is_scheduler_tool(tool.name):
                continue
            if tool.name == SEND_TOOL_NAME:
                continue
            if allowed is not None and tool.name not in allowed:
                continue
            if plugins_name is not None and not _plugin_allowed(tool, plugins_name):
                continue
            tools.add_tool(tool)
        tools.add_tool(SendMessageToUserTool(sender=sender))
        return tools

    async def _finish(self, sender: RunSender, answer: str, turn: _Turn) -> Outcome:
        """Deliver the final answer (unless delivery is off or it was sent already) and
        say what reached the user."""
        problem = ""
        if turn.deliver is not False and answer and not sender.already_sent(answer):
            try:
                result = await sender.send(answer)
                if result is SendResult.LIMIT:
                    problem = (
                        f"the final answer was not sent: the run already sent "
                        f"{sender.limit} messages (max_messages_per_run)"
                    )
            except DeliveryError as exc:
                if not (sender.delivered or turn.best_effort):
                    return Outcome(
                        RunStatus.ERROR,
                        Delivery.NOT_DELIVERED,
                        output=_cut(answer, self.settings.max_message_chars),
                        error=str(exc),
                        transient=exc.transient,
                    )
                problem = str(exc)
        output = _cut(answer or "\n".join(sender.sent), self.settings.max_message_chars)
        if sender.delivered:
            return Outcome(RunStatus.OK, sender.delivery, output=output, error=problem)
        if turn.deliver is False:
            return Outcome(RunStatus.OK, Delivery.NOT_REQUESTED, output=output)
        if not problem:
            problem = (
                "; ".join(sender.errors)
                if sender.errors
                else "the agent produced no answer, so nothing was sent"
            )
        return Outcome(RunStatus.OK, Delivery.NOT_DELIVERED, output=output, error=problem)

    # ----- AstrBot look-ups -------------------------------------------------------------

    async def _provider_id(self, turn: _Turn) -> str:
        wanted = (turn.provider_id or "").strip() or self.settings.default_provider.strip()
        if wanted:
            if self.context.get_provider_by_id(wanted) is None:
                raise AgentRunError(
                    f"provider {wanted!r} is not configured in AstrBot; choose another "
                    "model or clear it to use the chat's current one",
                    transient=False,
                )
            return wanted
        try:
            return await self.context.get_current_chat_provider_id(turn.provider_umo)
        except Exception as exc:
            raise AgentRunError(
                "no chat model is configured in AstrBot for this chat", transient=False
            ) from exc

    def _config(self, umo: str) -> dict[str, Any]:
        try:
            return self.context.get_config(umo=umo)
        except Exception:  # an unknown session falls back to the default config
            return self.context.get_config()

    async def _conversation(self, umo: str) -> Any:
        """The chat's current conversation, created when it has none."""
        manager = self.context.conversation_manager
        cid = await manager.get_curr_conversation_id(umo)
        conversation = await manager.get_conversation(umo, cid) if cid else None
        if conversation is None:
            cid = await manager.new_conversation(umo, platform_id=umo.split(":", 1)[0])
            conversation = await manager.get_conversation(umo, cid)
        if conversation is None:
            raise RuntimeError("AstrBot could not create a conversation")
        return conversation

    async def _conversation_persona(
        self, umo: str, conversation_persona_id: str | None
    ) -> dict[str, Any] | None:
        platform_name = umo.split(":", 1)[0]
        platform = self.context.get_platform_inst(platform_name)
        if platform is not None:
            platform_name = platform.meta().name
        _, persona, _, _ = await self.context.persona_manager.resolve_selected_persona(
            umo=umo,
            conversation_persona_id=conversation_persona_id,
            platform_name=platform_name,
        )
        return persona

    async def _append(self, umo: str, cid: str, messages: list[dict[str, Any]]) -> None:
        manager = self.context.conversation_manager
        conversation = await manager.get_conversation(umo, cid)
        if conversation is None:
            return
        history = _load_history(conversation.history)
        history.extend(messages)
        await manager.update_conversation(umo, cid, history=history)


class RunEvent(CronMessageEvent):
    """The synthetic event a run's agent and tools see: the delivery target as its session,
    the job's owner as its sender, and every direct reply routed through the run's sender."""

    def __init__(
        self,
        *,
        context: Context,
        session: MessageSession,
        message: str,
        owner: Owner,
        sender: RunSender,
        role: str,
        extras: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            context=context,
            session=session,
            message=message,
            sender_name=owner.sender_name or "Scheduler",
            extras=extras,
            message_type=session.message_type,
        )
        self.message_obj.sender = MessageMember(
            user_id=owner.sender_id, nickname=owner.sender_name or owner.sender_id
        )
        if session.message_type == MessageType.GROUP_MESSAGE:
            self.message_obj.group_id = session.session_id
        self.role = role
        self.run_sender = sender

    async def send(self, message: MessageChain) -> None:
        if message is None or not message.chain:
            return
        try:
            result = await self.run_sender.send_chain(message)
        except DeliveryError as exc:
            logger.warning(f"[future tasks] a tool's reply could not be sent: {exc}")
            return
        if result is SendResult.SENT:
            self._has_send_oper = True


# ----- prompts and small helpers ----------------------------------------------------------


def event_text(job: Job, run: RunContext) -> str:
    """One scheduled event as the agent reads it (also what waits for the heartbeat)."""
    label = f'task {job.id} "{job.display_name}"'
    if run.late and run.slot_at is not None:
        label += f", late: it was due at {format_local(run.slot_at, job.schedule.tz)}"
    return f"{job.payload.message} ({label})"


def main_prompt(events: list[str]) -> str:
    if len(events) == 1:
        return f"A scheduled event fired: {events[0]}\nAct on it or relay it to the user."
    lines = "\n".join(f"- {event}" for event in events)
    return f"Scheduled events fired:\n{lines}\nAct on them or relay them to the user."


def isolated_prompt(job: Job, run: RunContext) -> str:
    prompt = f"[cron:{job.id} {job.display_name}] {job.payload.message}"
    if run.late and run.slot_at is not None:
        prompt += (
            f"\n(This run is late: it was due at {format_local(run.slot_at, job.schedule.tz)}.)"
        )
    return prompt


def summarize(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def _cut(text: str, limit: int) -> str:
    return summarize(text, limit) if limit > 0 else text


def _join(*parts: str) -> str:
    return "\n\n".join(part.strip() for part in parts if part and part.strip())


def _time_note(settings: Settings) -> str:
    return f"Current time: {format_local(utc_now_ms(), settings.timezone)}."


def _persona_prompt(persona: dict[str, Any] | None) -> str:
    return str(persona.get("prompt") or "") if persona else ""


def _begin_dialogs(persona: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not persona:
        return []
    return list(copy.deepcopy(persona.get("_begin_dialogs_processed") or []))


def _load_history(raw: str | None) -> list[dict[str, Any]]:
    try:
        history = json.loads(raw or "[]")
    except (TypeError, ValueError):
        logger.warning("[future tasks] a conversation history could not be read; using none")
        return []
    return [m for m in history if isinstance(m, dict)] if isinstance(history, list) else []


def _admins(cfg: Any) -> set[str]:
    try:
        return {str(a) for a in cfg.get("admins_id", []) or []}
    except Exception:
        return set()


def _plugin_allowed(tool: Any, plugins_name: list[str]) -> bool:
    """As the main agent filters tools by the chat's enabled plugins; tools without a
    plugin (MCP tools) always pass."""
    from astrbot.core.star.star import star_map

    module_path = getattr(tool, "handler_module_path", None)
    if not module_path:
        return True
    plugin = star_map.get(module_path)
    if plugin is None:
        return True
    return plugin.name in plugins_name or bool(getattr(plugin, "reserved", False))


def _int(value: Any, default: int) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return default


def _error(message: str, exc: BaseException) -> Outcome:
    return Outcome(
        RunStatus.ERROR, Delivery.NOT_DELIVERED, error=message, transient=is_transient(exc)
    )


def _failed(sender: RunSender, message: str, transient: bool) -> Outcome:
    """A failed agent turn. If it already sent something, running it again would send
    that twice, so it is not retried."""
    if sender.delivered:
        return Outcome(
            RunStatus.ERROR,
            sender.delivery,
            output="\n".join(sender.sent),
            error=message,
            transient=False,
        )
    return Outcome(RunStatus.ERROR, Delivery.NOT_DELIVERED, error=message, transient=transient)


__all__ = [
    "HEARTBEAT_QUEUED",
    "AgentRunner",
    "RunEvent",
    "event_text",
    "isolated_prompt",
    "main_prompt",
    "summarize",
]
