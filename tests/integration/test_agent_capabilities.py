"""Agent runs are built as AstrBot builds its own main agent (SPEC §4, issue 14): the
built-in tools the bot's configuration enables, AstrBot's permission rules for the job's
owner, and the plugin's tracked send tool as the only way to send.

Runs are driven through ``AgentRunner`` as in test_agent_modes.py, with the scripted LLM.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.fakes.llm import LLMRequest, Reply, ToolCall
from tests.integration.harness import ADMIN_ID, PROVIDER_ID, AstrBot
from tests.integration.test_agent_modes import (
    Marks,
    history_of,
    make_job,
    make_run,
    make_runner,
    plugin_module,
    tool_results,
)

PROBE = "ft_whoami_probe"


@pytest.fixture
def llm(astrbot: AstrBot):
    astrbot.llm.clear()
    yield astrbot.llm
    astrbot.llm.clear()


@contextlib.contextmanager
def config_changed(astrbot: AstrBot, **changes: Any) -> Iterator[None]:
    """Top-level or ``provider_settings`` keys of AstrBot's config, put back afterwards."""
    cfg = astrbot.context.get_config()
    settings = cfg["provider_settings"]
    saved = {key: (key in cfg, cfg.get(key)) for key in changes if key != "provider_settings"}
    saved_settings = dict(settings)
    for key, value in changes.items():
        if key == "provider_settings":
            settings.update(value)
        else:
            cfg[key] = value
    try:
        yield
    finally:
        settings.clear()
        settings.update(saved_settings)
        for key, (present, value) in saved.items():
            if present:
                cfg[key] = value
            else:
                cfg.pop(key, None)


@contextlib.contextmanager
def whoami_probe(astrbot: AstrBot, *, admin_only: bool) -> Iterator[None]:
    """A plugin-style tool that answers with the role and sender id AstrBot gives the run;
    with ``admin_only`` AstrBot's tool permissions keep it from members."""
    from astrbot.core import sp
    from astrbot.core.agent.tool import FunctionTool
    from pydantic.dataclasses import dataclass

    @dataclass
    class WhoAmI(FunctionTool):
        async def call(self, context: Any, **kwargs: Any) -> str:
            event = context.context.event
            return f"role={event.role} sender={event.get_sender_id()}"

    manager = astrbot.context.get_llm_tool_manager()
    manager.func_list.append(
        WhoAmI(name=PROBE, description="who am I", parameters={"type": "object"})
    )
    before = astrbot.run(sp.global_get("tool_permissions", {})) or {}
    if admin_only:
        perms = {**before, "_default": {**before.get("_default", {}), PROBE: "admin"}}
        astrbot.run(sp.global_put("tool_permissions", perms))
    try:
        yield
    finally:
        astrbot.run(sp.global_put("tool_permissions", before))
        manager.remove_func(PROBE)


def isolated(astrbot: AstrBot, user: int | str, message: str, **runner: Any) -> Any:
    job = make_job(astrbot, int(user), message, mode="isolated")
    return astrbot.run(
        make_runner(astrbot, **runner).run_isolated(job, make_run(Marks()), astrbot.umo(user)),
        timeout=60,
    )


def test_isolated_run_is_offered_the_builtin_tools_the_config_enables(
    astrbot: AstrBot, llm: Any
) -> None:
    llm.script(ToolCall("astr_kb_search", {"query": "work log this week"}), "summary sent")
    with config_changed(
        astrbot,
        kb_agentic_mode=True,
        provider_settings={"web_search": True, "websearch_provider": "tavily"},
    ):
        outcome = isolated(astrbot, 5201, "summarize this week's work log")

    assert outcome.ok, outcome
    first, second = llm.requests[-2:]
    assert "astr_kb_search" in first.tool_names, first.tool_names
    assert "web_search_tavily" in first.tool_names, first.tool_names
    assert first.tool_names.count("send_message_to_user") == 1
    assert not [n for n in first.tool_names if n.startswith("future_task")]
    # the knowledge base tool ran (no knowledge base is configured for this chat)
    assert tool_results(second) == ["No relevant knowledge found."]


def test_isolated_run_without_them_enabled_is_not_offered_them(astrbot: AstrBot, llm: Any) -> None:
    llm.script("nothing to search")
    with config_changed(astrbot, kb_agentic_mode=False, provider_settings={"web_search": False}):
        outcome = isolated(astrbot, 5202, "look something up")
    assert outcome.ok, outcome
    names = llm.requests[-1].tool_names
    assert "astr_kb_search" not in names and "web_search_tavily" not in names, names


def test_a_members_run_is_refused_a_tool_astrbot_keeps_from_members(
    astrbot: AstrBot, llm: Any
) -> None:
    with whoami_probe(astrbot, admin_only=True):
        llm.script(ToolCall(PROBE), "done")
        member = isolated(astrbot, 5203, "who am I?")
        member_results = tool_results(llm.requests[-1])
        llm.script(ToolCall(PROBE), "done")
        admin = isolated(astrbot, ADMIN_ID, "who am I?")
        admin_results = tool_results(llm.requests[-1])

    assert member.ok and admin.ok, (member, admin)
    assert "Permission denied" in member_results[0], member_results
    assert admin_results == [f"role=admin sender={ADMIN_ID}"]


def test_a_heartbeat_turn_runs_as_the_owner_of_its_events(astrbot: AstrBot, llm: Any) -> None:
    group = astrbot.umo(7301, group=True)
    owner = plugin_module("core.models").Owner(origin=group, sender_id="5204", sender_name="m")
    runner = make_runner(astrbot, heartbeat_minutes=30)
    job = make_job(astrbot, 5204, "stand up", mode="main", wake_mode="next-heartbeat")
    job.owner = owner
    job.enabled = False  # stored only so the heartbeat can find its owner
    write = plugin_module("core.store").JobWrite(job.id, 0, job=job)
    assert astrbot.run(runner.store.write_job(write))
    try:
        astrbot.run(runner.run_main(job, make_run(Marks()), group))
        with whoami_probe(astrbot, admin_only=False):
            llm.script(ToolCall(PROBE), "Stand up, everyone.")
            astrbot.run(runner.heartbeat(), timeout=60)
    finally:
        astrbot.run(runner.store.delete_job(job.id))
    requests: list[LLMRequest] = llm.requests
    assert tool_results(requests[-1]) == ["role=member sender=5204"]


@contextlib.contextmanager
def model_sees_images(astrbot: AstrBot) -> Iterator[None]:
    """The fake model declared able to read images (AstrBot drops them otherwise)."""
    provider = astrbot.context.get_provider_by_id(PROVIDER_ID)
    before = provider.provider_config.get("modalities")
    provider.provider_config["modalities"] = ["text", "image", "tool_use"]
    try:
        yield
    finally:
        if before is None:
            provider.provider_config.pop("modalities", None)
        else:
            provider.provider_config["modalities"] = before


def image_parts(request: LLMRequest) -> list[Any]:
    content = request.messages[-1].get("content")
    parts = content if isinstance(content, list) else []
    return [p for p in parts if isinstance(p, dict) and p.get("type") == "image_url"]


@pytest.mark.parametrize("mode", ["isolated", "main"])
def test_a_tasks_media_is_shown_to_the_model(
    astrbot: AstrBot, llm: Any, tmp_path: Any, mode: str
) -> None:
    picture = tmp_path / "chart.png"
    picture.write_bytes(PNG)
    user = 5205 if mode == "isolated" else 5206
    job = make_job(astrbot, user, "describe the chart", mode=mode, media=[str(picture)])
    runner = make_runner(astrbot)
    run = runner.run_isolated if mode == "isolated" else runner.run_main
    llm.script("a rising line")
    with model_sees_images(astrbot):
        outcome = astrbot.run(run(job, make_run(Marks()), astrbot.umo(user)), timeout=60)
    assert outcome.ok, outcome
    request = llm.requests[-1]
    assert str(picture) in request.last_user_text  # named, so it can be sent on
    assert len(image_parts(request)) == 1, request.messages[-1]


def test_an_isolated_task_posts_to_main_with_its_own_prefix(astrbot: AstrBot, llm: Any) -> None:
    user = 5207
    llm.script("3 new issues")
    job = make_job(astrbot, user, "triage", mode="isolated", name="triage", post_prefix="日报")
    outcome = astrbot.run(
        make_runner(astrbot, post_to_main="full").run_isolated(
            job, make_run(Marks()), astrbot.umo(user)
        )
    )
    assert outcome.ok, outcome
    history = astrbot.run(history_of(astrbot, astrbot.umo(user)))
    assert history[-1]["content"] == f"日报 [{job.id} triage] 3 new issues"


# a 1x1 transparent PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


def test_a_run_that_ends_in_the_agents_error_state_is_an_error(
    astrbot: AstrBot, llm: Any, onebot_mark: int
) -> None:
    llm.script(*[Reply(status=400, text="bad request: this model refuses")] * 3)
    outcome = isolated(astrbot, 5208, "fails inside the agent")
    assert outcome.status.value == "error", outcome
    assert outcome.error.startswith("the agent run ended in an error"), outcome.error
    assert outcome.delivery.value == "not-delivered"
    assert [a for a in astrbot.onebot.sent(onebot_mark) if a.target == 5208] == []
