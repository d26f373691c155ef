"""Keeping AstrBot core's own scheduler tool away from the model.

AstrBot (4.14+) adds its ``future_task`` tool to every main-agent request when
``provider_settings.proactive_capability.add_cron_tools`` is on (the default; see
``_proactive_cron_job_tools`` in ``astrbot/core/astr_main_agent.py``). With both
schedulers offered, a model splits one user's tasks between them. The main agent's
``OnLLMRequestEvent`` hooks run after core has built the request's tool set and before
the agent starts, so removing the tool there is enough; the user's configuration is
left untouched.
"""

from __future__ import annotations

from typing import Any

CORE_FUTURE_TASK_TOOL = "future_task"
PLUGIN_TOOL_PREFIX = "future_task_"


def is_scheduler_tool(name: str) -> bool:
    """Core's ``future_task`` and the plugin's ``future_task_*`` tools: an agent run of a
    job must not be able to create further jobs."""
    return name == CORE_FUTURE_TASK_TOOL or name.startswith(PLUGIN_TOOL_PREFIX)


def hide_core_future_task(request: Any) -> bool:
    """Remove core's ``future_task`` from a ``ProviderRequest``'s tools; True if it was there.

    Call it from an ``@filter.on_llm_request()`` hook while ``hide_core_future_task`` is on.
    """
    tools = getattr(request, "func_tool", None)
    if tools is None or tools.get_tool(CORE_FUTURE_TASK_TOOL) is None:
        return False
    tools.remove_tool(CORE_FUTURE_TASK_TOOL)
    return True
