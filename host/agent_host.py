"""What an agent run looks up in AstrBot: the chat's configuration as AstrBot resolves it,
the main-agent build settings derived from it (as AstrBot's own chat pipeline derives them),
the run's role, its chat model, and the owner's conversation."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from astrbot.api import logger
from astrbot.core.astr_main_agent import MainAgentBuildConfig
from astrbot.core.config.agent_runner import resolve_context_compression_config

from ..core.models import Owner
from .agent_outcome import AgentRunError

if TYPE_CHECKING:
    from astrbot.api.star import Context
    from astrbot.core.provider.provider import Provider

DEFAULT_MAX_STEPS = 128
NO_MODEL = "no chat model is configured in AstrBot for this chat"


def chat_config(context: Context, umo: str) -> Any:
    """The configuration AstrBot uses for this chat (its per-chat config routing)."""
    try:
        return context.get_config(umo=umo)
    except Exception:  # an unknown session falls back to the default config
        return context.get_config()


def build_config(context: Context, cfg: Any) -> MainAgentBuildConfig:
    """The main-agent build settings for a chat, read from its configuration the way
    AstrBot's chat pipeline reads them (``InternalAgentSubStage.initialize``), with
    streaming off and core's own scheduler tool left out: a run answers in one piece
    and can not create jobs."""
    settings = cfg.get("provider_settings") or {}
    runner = (cfg.get("agent_runner") or {}).get("config") or {}
    model = runner.get("model") or {}
    persona = runner.get("persona") or {}
    misc = runner.get("misc") or {}
    schema_mode = misc.get("tool_schema_mode", "full")
    file_extract = settings.get("file_extract") or {}
    return MainAgentBuildConfig(
        tool_call_timeout=_positive(misc.get("tool_call_timeout"), 120),
        tool_schema_mode=schema_mode if schema_mode in ("skills_like", "full") else "full",
        sanitize_context_by_modalities=bool(misc.get("sanitize_context_by_modalities", False)),
        kb_agentic_mode=bool(cfg.get("kb_agentic_mode", False)),
        file_extract_enabled=bool(file_extract.get("enable", False)),
        file_extract_prov=file_extract.get("provider", "moonshotai"),
        file_extract_msh_api_key=file_extract.get("moonshotai_api_key", ""),
        **resolve_context_compression_config(runner.get("compression") or {}),
        llm_safety_mode=persona.get("safety_mode", True),
        safety_mode_strategy=persona.get("safety_mode_strategy", "system_prompt"),
        streaming_response=False,
        computer_use_runtime=settings.get("computer_use_runtime", "none"),
        sandbox_cfg=settings.get("sandbox", {}),
        add_cron_tools=False,
        provider_settings={
            **settings,
            "default_personality": persona.get("persona_id", "default"),
        },
        fallback_provider_ids=list(model.get("fallback_provider_ids") or []),
        request_max_retries=_positive(model.get("request_max_retries"), 5),
        subagent_orchestrator=cfg.get("subagent_orchestrator", {}),
        timezone=context.get_config().get("timezone"),
        max_quoted_fallback_images=settings.get("max_quoted_fallback_images", 20),
    )


def max_steps(cfg: Any) -> int:
    """The chat's agent step limit (``agent_runner.config.misc.max_steps``)."""
    misc = ((cfg.get("agent_runner") or {}).get("config") or {}).get("misc") or {}
    value = misc.get("max_steps", DEFAULT_MAX_STEPS)
    return DEFAULT_MAX_STEPS if isinstance(value, bool) else _positive(value, DEFAULT_MAX_STEPS)


def role_of(owner: Owner, cfg: Any) -> str:
    """``admin`` iff the job's owner is one of the bot's admins, so AstrBot's permission
    rules for tools treat the run as they would treat its owner."""
    try:
        admins = {str(a) for a in cfg.get("admins_id", []) or []}
    except Exception:
        admins = set()
    return "admin" if owner.sender_id in admins else "member"


def enabled_plugins(cfg: Any) -> list[str] | None:
    """The chat's enabled plugins, as the event's ``plugins_name`` (None: all)."""
    plugin_set = cfg.get("plugin_set", ["*"])
    return None if not plugin_set or plugin_set == ["*"] else list(plugin_set)


async def chat_provider(context: Context, wanted: str, umo: str) -> Provider:
    """The job's chat model: the one it names, else the chat's current one."""
    if wanted:
        provider = context.get_provider_by_id(wanted)
        if provider is None:
            raise AgentRunError(
                f"provider {wanted!r} is not configured in AstrBot; choose another "
                "model or clear it to use the chat's current one",
                transient=False,
            )
        return provider
    try:
        provider = context.get_provider_by_id(await context.get_current_chat_provider_id(umo))
    except Exception as exc:
        raise AgentRunError(NO_MODEL, transient=False) from exc
    if provider is None:
        raise AgentRunError(NO_MODEL, transient=False)
    return provider


async def conversation_of(context: Context, umo: str) -> Any:
    """The chat's current conversation, created when it has none."""
    manager = context.conversation_manager
    cid = await manager.get_curr_conversation_id(umo)
    conversation = await manager.get_conversation(umo, cid) if cid else None
    if conversation is None:
        cid = await manager.new_conversation(umo, platform_id=umo.split(":", 1)[0])
        conversation = await manager.get_conversation(umo, cid)
    if conversation is None:
        raise RuntimeError("AstrBot could not create a conversation")
    return conversation


def scratch_conversation(umo: str, job_id: str, persona_id: str | None) -> Any:
    """A conversation that is never saved, for an isolated run: AstrBot applies persona,
    skills and tools only to a request that has a conversation."""
    from astrbot.core.db.po import Conversation

    return Conversation(
        platform_id=umo.split(":", 1)[0],
        user_id=umo,
        cid=f"future-task-{job_id}",
        history="[]",
        persona_id=persona_id,
    )


async def append_to_conversation(
    context: Context, umo: str, cid: str, messages: list[dict[str, Any]]
) -> None:
    manager = context.conversation_manager
    conversation = await manager.get_conversation(umo, cid)
    if conversation is None:
        return
    history = load_history(conversation.history)
    history.extend(messages)
    await manager.update_conversation(umo, cid, history=history)


def load_history(raw: str | None) -> list[dict[str, Any]]:
    try:
        history = json.loads(raw or "[]")
    except (TypeError, ValueError):
        logger.warning("[future tasks] a conversation history could not be read; using none")
        return []
    return [m for m in history if isinstance(m, dict)] if isinstance(history, list) else []


def _positive(value: Any, default: int) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return default
