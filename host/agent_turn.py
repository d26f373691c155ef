"""One agent turn of a job's run, built the way AstrBot builds its own main agent.

``build_main_agent`` (what AstrBot's chat pipeline and its built-in cron use) applies the
chat's configuration: persona, skills, knowledge base, web search, sandbox or local
computer use, subagents, safety mode, context compression and fallback models. Around it
this module does only what a scheduled run needs differently:

- the synthetic event carries the job's owner as its sender and role, so AstrBot's
  permission rules for tools treat the run as they would treat the owner;
- scheduler tools (core's ``future_task``, the plugin's ``future_task_*``) are taken out,
  so a run can not create jobs, and core's ``send_message_to_user`` is replaced by the
  plugin's tracked one, so every message the run sends is counted and deduplicated;
- a turn that ends in the agent's error state is an error, not an empty success.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from astrbot.api import logger
from astrbot.core.agent.runners.base import AgentState
from astrbot.core.agent.tool import ToolSet
from astrbot.core.astr_main_agent import LLM_ERROR_MESSAGE_EXTRA_KEY, build_main_agent
from astrbot.core.cron.events import CronMessageEvent
from astrbot.core.platform.astrbot_message import MessageMember
from astrbot.core.platform.message_session import MessageSession
from astrbot.core.platform.message_type import MessageType
from astrbot.core.provider.entities import ProviderRequest

from ..core.models import Delivery, Owner
from .agent_host import (
    build_config,
    chat_config,
    chat_provider,
    enabled_plugins,
    max_steps,
    role_of,
)
from .agent_outcome import AgentRunError
from .agent_tools import SEND_TOOL_NAME, RunSender, SendMessageToUserTool, SendResult
from .core_tools import is_scheduler_tool
from .delivery import DeliveryError
from .failures import is_transient

if TYPE_CHECKING:
    from astrbot.api.event import MessageChain
    from astrbot.api.star import Context


@dataclass(slots=True)
class Turn:
    """Who a turn runs for and where its messages go."""

    session: str  # the delivery target
    owner: Owner
    provider_id: str = ""  # the job's model, else the owner's chat's current one
    job_id: str | None = None
    deliver: bool | None = None  # the job's Target.deliver
    best_effort: bool = False
    on_delivered: Callable[[Delivery], None] | None = None


@dataclass(slots=True)
class TurnInput:
    """What the model reads: the scheduler's note, the prompt, the conversation."""

    prompt: str
    note: str  # the system prompt part that says how the run was woken
    conversation: Any  # AstrBot's Conversation: persona and tools are applied from it
    contexts: list[dict[str, Any]] = field(default_factory=list)
    image_urls: list[str] = field(default_factory=list)


async def run_turn(context: Context, turn: Turn, sender: RunSender, given: TurnInput) -> str:
    """Run one agent turn to its end; its final answer. AgentRunError on failure."""
    try:
        session = MessageSession.from_str(turn.session)
    except Exception as exc:
        raise AgentRunError(
            f"invalid target session {turn.session!r}: {exc}", transient=False
        ) from exc
    cfg = chat_config(context, turn.session)
    event = RunEvent(
        context=context,
        session=session,
        message=given.prompt,
        owner=turn.owner,
        sender=sender,
        role=role_of(turn.owner, cfg),
        extras={"future_task": {"id": turn.job_id, "session": turn.session}},
    )
    event.plugins_name = enabled_plugins(cfg)
    provider = await chat_provider(context, turn.provider_id, turn.owner.origin)
    request = ProviderRequest(
        prompt=given.prompt,
        system_prompt=given.note,
        contexts=list(given.contexts),
        image_urls=list(given.image_urls),
        conversation=given.conversation,
    )
    try:
        built = await build_main_agent(
            event=event,
            plugin_context=context,
            config=build_config(context, cfg),
            provider=provider,
            req=request,
            apply_reset=False,
        )
        if built is None:
            why = event.get_extra(LLM_ERROR_MESSAGE_EXTRA_KEY) or "the request was rejected"
            raise AgentRunError(f"AstrBot could not build the agent: {why}", transient=False)
        request.func_tool = run_tools(request.func_tool, sender)
        await built.reset_coro
        return await _step_to_end(built.agent_runner, max_steps(cfg))
    except AgentRunError:
        raise
    except Exception as exc:
        raise AgentRunError(
            f"the agent run failed: {type(exc).__name__}: {exc}", transient=is_transient(exc)
        ) from exc


async def _step_to_end(runner: Any, steps: int) -> str:
    async for _ in runner.step_until_done(steps):
        pass
    response = runner.get_final_llm_resp()
    text = ((response.completion_text if response else "") or "").strip()
    if runner.state == AgentState.ERROR or (response is not None and response.role == "err"):
        raise AgentRunError(
            f"the agent run ended in an error: {text or 'unknown error'}",
            transient=is_transient(text),
        )
    if response is None:
        raise AgentRunError("the agent returned no response", transient=True)
    return text


def run_tools(built: ToolSet | None, sender: RunSender) -> ToolSet:
    """The tools AstrBot chose for the chat, without the scheduler's, with the plugin's
    tracked ``send_message_to_user`` in place of core's."""
    tools = ToolSet()
    for tool in built.tools if built is not None else []:
        if is_scheduler_tool(tool.name) or tool.name == SEND_TOOL_NAME:
            continue
        tools.add_tool(tool)
    tools.add_tool(SendMessageToUserTool(sender=sender))
    return tools


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
