"""The agent run modes (SPEC §4) inside the real AstrBot, with a scripted LLM.

The executor does not dispatch agent jobs yet, so these tests drive ``AgentRunner``
directly with a hand-built ``Job`` and ``RunContext``. The plugin's modules are taken
from the package AstrBot loaded them as (``data.plugins.<name>``), so they are the
same objects the plugin itself uses.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import json
import time
from typing import Any

import pytest

from tests.integration.fakes.llm import LLMRequest, Reply, ToolCall
from tests.integration.harness import PLUGIN_NAME, AstrBot

PACKAGE = f"data.plugins.{PLUGIN_NAME}"
_ids = itertools.count(1)


def plugin_module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


class Marks:
    """A RunContext.mark_delivered that counts its calls."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, delivery: Any = None) -> None:
        self.count += 1


def make_job(
    astrbot: AstrBot,
    user_id: int,
    message: str,
    *,
    mode: str,
    name: str = "",
    **payload: Any,
) -> Any:
    models = plugin_module("core.models")
    now = int(time.time() * 1000)
    return models.Job(
        id=f"t{next(_ids):07d}",
        name=name,
        owner=models.Owner(origin=astrbot.umo(user_id), sender_id=str(user_id), sender_name="t"),
        schedule=models.Schedule(kind=models.ScheduleKind.AT, tz="Asia/Shanghai", at_ms=now),
        payload=models.Payload(mode=models.Mode(mode), message=message, **payload),
        created_at=now,
        updated_at=now,
    )


def make_run(marks: Marks, *, late: bool = False) -> Any:
    engine = plugin_module("core.engine")
    models = plugin_module("core.models")
    now = int(time.time() * 1000)
    return engine.RunContext(
        run_id=f"r{next(_ids)}",
        trigger=models.Trigger.SCHEDULE,
        slot_at=now - (600_000 if late else 0),
        started_at=now,
        late=late,
        mark_delivered=marks,
    )


def make_runner(astrbot: AstrBot, **overrides: Any) -> Any:
    runtime = astrbot.plugin.runtime
    settings = dataclasses.replace(runtime.settings, **overrides)
    agent = plugin_module("host.agent")
    return agent.AgentRunner(astrbot.context, settings, runtime.store)


async def history_of(astrbot: AstrBot, umo: str) -> list[dict[str, Any]]:
    manager = astrbot.context.conversation_manager
    cid = await manager.get_curr_conversation_id(umo)
    if not cid:
        return []
    conversation = await manager.get_conversation(umo, cid)
    return json.loads(conversation.history or "[]") if conversation else []


def texts_to(astrbot: AstrBot, user_id: int, since: int) -> list[str]:
    return [a.text for a in astrbot.onebot.sent(since) if a.target == user_id]


def message_texts(request: LLMRequest) -> list[str]:
    out = []
    for message in request.messages:
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        out.append(str(content or ""))
    return out


def tool_results(request: LLMRequest) -> list[str]:
    return [str(m.get("content")) for m in request.messages if m.get("role") == "tool"]


@pytest.fixture
def llm(astrbot: AstrBot):
    astrbot.llm.clear()
    yield astrbot.llm
    astrbot.llm.clear()


# ----- isolated ----------------------------------------------------------------------------


def test_isolated_answer_is_delivered_once_and_summarized_in_main(
    astrbot: AstrBot, llm: Any, onebot_mark: int
) -> None:
    user = 5101
    llm.script("build is green")
    job = make_job(astrbot, user, "check the build", mode="isolated", name="build check")
    marks = Marks()
    outcome = astrbot.run(
        make_runner(astrbot).run_isolated(job, make_run(marks), astrbot.umo(user))
    )

    assert outcome.status.value == "ok", outcome
    assert outcome.delivery.value == "delivered"
    assert outcome.output == "build is green"
    astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.target == user and a.text == "build is green", since=onebot_mark
        )
    )
    time.sleep(0.3)
    assert texts_to(astrbot, user, onebot_mark) == ["build is green"]
    assert marks.count == 1

    request = llm.requests[-1]
    assert request.last_user_text.startswith(f"[cron:{job.id} build check] check the build")
    assert request.messages[0]["role"] == "system"
    assert "scheduled task" in message_texts(request)[0]

    history = astrbot.run(history_of(astrbot, astrbot.umo(user)))
    notes = [m for m in history if m["role"] == "assistant"]
    assert notes and notes[-1]["content"].startswith(f"Cron [{job.id} build check]")
    assert "build is green" in notes[-1]["content"]


def test_isolated_tools_are_the_users_minus_scheduler_plus_send(astrbot: AstrBot, llm: Any) -> None:
    from astrbot.core.agent.tool import FunctionTool
    from pydantic.dataclasses import dataclass

    @dataclass
    class Probe(FunctionTool):
        async def call(self, context: Any, **kwargs: Any) -> str:
            return "probe"

    manager = astrbot.context.get_llm_tool_manager()
    probes = [
        Probe(name="weather_probe", description="a user tool", parameters={"type": "object"}),
        Probe(name="future_task_probe", description="ours", parameters={"type": "object"}),
    ]
    manager.func_list.extend(probes)
    try:
        llm.script("done")
        job = make_job(astrbot, 5102, "look around", mode="isolated")
        outcome = astrbot.run(
            make_runner(astrbot).run_isolated(job, make_run(Marks()), astrbot.umo(5102))
        )
    finally:
        for probe in probes:
            manager.remove_func(probe.name)
    assert outcome.ok, outcome
    names = llm.requests[-1].tool_names
    assert "send_message_to_user" in names
    assert "weather_probe" in names
    assert not [n for n in names if n.startswith("future_task")], names
    schema = llm.requests[-1].tool("send_message_to_user")
    assert schema is not None
    params = schema["parameters"]
    assert params["required"] == ["text"]
    assert params["properties"]["media"]["type"] == "array"


def test_isolated_send_tool_deduplicates(astrbot: AstrBot, llm: Any, onebot_mark: int) -> None:
    user = 5103
    llm.script(
        ToolCall("send_message_to_user", {"text": "deploy done"}),
        ToolCall("send_message_to_user", {"text": "deploy done"}),
        "deploy done",
    )
    job = make_job(astrbot, user, "deploy", mode="isolated")
    marks = Marks()
    outcome = astrbot.run(
        make_runner(astrbot).run_isolated(job, make_run(marks), astrbot.umo(user))
    )

    assert outcome.ok and outcome.delivery.value == "delivered", outcome
    astrbot.run(astrbot.onebot.wait_for_action(lambda a: a.target == user, since=onebot_mark))
    time.sleep(0.3)
    assert texts_to(astrbot, user, onebot_mark) == ["deploy done"]
    assert marks.count == 1
    results = tool_results(llm.requests[-1])
    assert len(results) == 2
    assert results[0].startswith("Sent")
    assert "already sent" in results[1]


def test_isolated_send_tool_is_limited(astrbot: AstrBot, llm: Any, onebot_mark: int) -> None:
    user = 5104
    llm.script(
        ToolCall("send_message_to_user", {"text": "one"}),
        ToolCall("send_message_to_user", {"text": "two"}),
        ToolCall("send_message_to_user", {"text": "three"}),
        "all done",
    )
    job = make_job(astrbot, user, "chatty", mode="isolated")
    marks = Marks()
    runner = make_runner(astrbot, max_messages_per_run=2)
    outcome = astrbot.run(runner.run_isolated(job, make_run(marks), astrbot.umo(user)))

    assert outcome.ok and outcome.delivery.value == "delivered", outcome
    assert "max_messages_per_run" in outcome.error
    time.sleep(0.3)
    assert texts_to(astrbot, user, onebot_mark) == ["one", "two"]
    assert marks.count == 2
    results = tool_results(llm.requests[-1])
    assert "message limit reached" in results[-1]
    assert "at most 2 messages" in results[-1]


def test_isolated_empty_answer_is_not_a_silent_success(
    astrbot: AstrBot, llm: Any, onebot_mark: int
) -> None:
    user = 5105
    llm.script(Reply(text=""), Reply(text=""), Reply(text=""), Reply(text=""))
    job = make_job(astrbot, user, "say nothing", mode="isolated")
    outcome = astrbot.run(
        make_runner(astrbot).run_isolated(job, make_run(Marks()), astrbot.umo(user)),
        timeout=60,
    )
    assert outcome.delivery.value == "not-delivered", outcome
    assert outcome.error
    assert texts_to(astrbot, user, onebot_mark) == []


def test_isolated_with_delivery_off_sends_nothing_but_posts_to_main(
    astrbot: AstrBot, llm: Any, onebot_mark: int
) -> None:
    models = plugin_module("core.models")
    user = 5106
    llm.script("quiet result")
    job = make_job(astrbot, user, "quietly", mode="isolated")
    job.target = models.Target(deliver=False)
    outcome = astrbot.run(
        make_runner(astrbot, post_to_main="full", post_to_main_prefix="Job").run_isolated(
            job, make_run(Marks()), astrbot.umo(user)
        )
    )
    assert outcome.ok and outcome.delivery.value == "not-requested", outcome
    time.sleep(0.3)
    assert texts_to(astrbot, user, onebot_mark) == []
    history = astrbot.run(history_of(astrbot, astrbot.umo(user)))
    assert history[-1]["content"] == f"Job [{job.id} quietly] quiet result"


def test_llm_error_is_a_transient_error_outcome(
    astrbot: AstrBot, llm: Any, onebot_mark: int
) -> None:
    def boom(_request: LLMRequest) -> str:
        raise RuntimeError("scripted server failure")

    user = 5107
    llm.script(*([boom] * 6))
    job = make_job(astrbot, user, "fails", mode="isolated")
    outcome = astrbot.run(
        make_runner(astrbot).run_isolated(job, make_run(Marks()), astrbot.umo(user)),
        timeout=60,
    )
    assert outcome.status.value == "error", outcome
    assert outcome.transient is True
    assert "500" in outcome.error
    assert outcome.delivery.value == "not-delivered"
    assert texts_to(astrbot, user, onebot_mark) == []


# ----- main ----------------------------------------------------------------------------------


def test_main_job_runs_in_the_owners_conversation(
    astrbot: AstrBot, llm: Any, onebot_mark: int
) -> None:
    user = 5110
    origin = astrbot.umo(user)
    context = astrbot.context

    async def prepare() -> None:
        personas = context.persona_manager
        if personas.get_persona_v3_by_id("ft_captain") is None:
            await personas.create_persona(
                persona_id="ft_captain", system_prompt="You are Captain Teal of the plugin tests."
            )
        await context.conversation_manager.new_conversation(
            origin,
            content=[
                {"role": "user", "content": "my favourite plant is the fern"},
                {"role": "assistant", "content": "Noted: the fern."},
            ],
            persona_id="ft_captain",
        )

    astrbot.run(prepare())
    llm.script("Time to water the fern!")
    job = make_job(astrbot, user, "water the plants", mode="main", name="plants")
    marks = Marks()
    outcome = astrbot.run(make_runner(astrbot).run_main(job, make_run(marks, late=True), origin))

    assert outcome.ok and outcome.delivery.value == "delivered", outcome
    astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.target == user and a.text == "Time to water the fern!", since=onebot_mark
        )
    )
    assert marks.count == 1

    request = llm.requests[-1]
    texts = message_texts(request)
    assert "Captain Teal" in texts[0]  # the conversation's persona
    assert "my favourite plant is the fern" in texts  # its history
    prompt = request.last_user_text
    assert prompt.startswith("A scheduled event fired: water the plants")
    assert f'task {job.id} "plants"' in prompt and "late" in prompt
    assert "Act on it or relay it to the user." in prompt
    assert "send_message_to_user" in request.tool_names
    assert not [n for n in request.tool_names if n.startswith("future_task")]

    history = astrbot.run(history_of(astrbot, origin))
    assert history[0]["content"] == "my favourite plant is the fern"
    assert history[-2]["role"] == "user"
    # AstrBot adds its own reminders (date and time) after the prompt the model reads
    assert prompt.startswith(history[-2]["content"]), (prompt, history[-2])
    assert history[-2]["content"].endswith("Act on it or relay it to the user.")
    assert history[-1] == {"role": "assistant", "content": "Time to water the fern!"}


def test_main_job_next_heartbeat_waits_and_is_handled_together(
    astrbot: AstrBot, llm: Any, onebot_mark: int
) -> None:
    user = 5111
    origin = astrbot.umo(user)
    runner = make_runner(astrbot, heartbeat_minutes=30)
    first = make_job(astrbot, user, "stand up", mode="main", wake_mode="next-heartbeat")
    second = make_job(astrbot, user, "drink water", mode="main", wake_mode="next-heartbeat")
    for job in (first, second):
        outcome = astrbot.run(runner.run_main(job, make_run(Marks()), origin))
        assert outcome.ok and outcome.delivery.value == "not-requested", outcome
        assert outcome.output == "queued for the next heartbeat"
    assert llm.requests == []

    llm.script("Stand up and drink some water.")
    astrbot.run(runner.heartbeat())
    assert len(llm.requests) == 1
    prompt = llm.requests[0].last_user_text
    assert "stand up" in prompt and "drink water" in prompt
    astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.target == user and a.text == "Stand up and drink some water.",
            since=onebot_mark,
        )
    )
    assert astrbot.run(astrbot.plugin.runtime.store.take_pending_events(origin)) == []

    # heartbeat off: next-heartbeat behaves as now
    llm.script("right now")
    off = make_runner(astrbot, heartbeat_minutes=0)
    job = make_job(astrbot, user, "now please", mode="main", wake_mode="next-heartbeat")
    outcome = astrbot.run(off.run_main(job, make_run(Marks()), origin))
    assert outcome.ok and outcome.delivery.value == "delivered", outcome


# ----- core's future_task is hidden from the main agent --------------------------------------


def test_core_future_task_is_hidden_from_the_main_agent(
    astrbot: AstrBot, llm: Any, onebot_mark: int
) -> None:
    from astrbot.core.star.star_handler import (
        EventType,
        StarHandlerMetadata,
        star_handlers_registry,
    )

    core_tools = plugin_module("host.core_tools")

    async def hide(event: Any, request: Any) -> None:
        core_tools.hide_core_future_task(request)

    handler = StarHandlerMetadata(
        event_type=EventType.OnLLMRequestEvent,
        handler_full_name=f"{PACKAGE}.tests_hide_core_future_task",
        handler_name="tests_hide_core_future_task",
        handler_module_path=astrbot.star.module_path,
        handler=hide,
        event_filters=[],
    )
    user = 5120

    def chat(text: str, reply: str) -> LLMRequest:
        before = len(llm.requests)
        mark = astrbot.onebot.mark()
        llm.script(reply)
        astrbot.run(astrbot.onebot.send_private_message(user, text))
        astrbot.run(
            astrbot.onebot.wait_for_action(
                lambda a: a.target == user and a.text == reply, timeout=20, since=mark
            ),
            timeout=30,
        )
        return llm.requests[before]

    plugin_hooks = [
        h
        for h in star_handlers_registry.get_handlers_by_event_type(EventType.OnLLMRequestEvent)
        if h.handler_module_path == astrbot.star.module_path
    ]
    if not plugin_hooks:  # the premise: without a hook, core offers its future_task
        baseline = chat("what can you schedule?", "plenty")
        assert "future_task" in baseline.tool_names, baseline.tool_names

    star_handlers_registry.append(handler)
    try:
        request = chat("remind me of things", "sure")
    finally:
        star_handlers_registry.remove(handler)
    assert request.tool_names, "the main agent was offered no tools at all"
    assert "future_task" not in request.tool_names, request.tool_names
