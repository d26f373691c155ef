"""The future_task_* tools, called by a scripted model inside the real AstrBot."""

from __future__ import annotations

import re
import time

from tests.integration.fakes.llm import Reply, ToolCall
from tests.integration.harness import AstrBot

USER_A, USER_B = 6201, 6202
TOOLS = {
    "future_task_create",
    "future_task_list",
    "future_task_edit",
    "future_task_cancel",
    "future_task_run",
    "future_task_history",
}


def _chat(astrbot: AstrBot, user: int, text: str, *calls: ToolCall, answer: str = "done") -> str:
    """The user says ``text``; the model calls ``calls`` and then answers. Returns the tool
    results the model saw (the content of the tool messages of its second request)."""
    before = len(astrbot.llm.requests)
    astrbot.llm.script(Reply.calling(*calls), answer)
    mark = astrbot.onebot.mark()
    astrbot.run(astrbot.onebot.send_private_message(user, text))
    astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.target == user and a.text == answer, timeout=20, since=mark
        )
    )
    messages = astrbot.llm.requests[before + 1].messages
    results = []
    for message in reversed(messages):  # this turn's tool results end the conversation
        if message.get("role") != "tool":
            break
        results.insert(0, _content(message))
    assert results, messages
    return "\n".join(results)


def _content(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def test_the_model_is_offered_the_tools_with_precise_schemas(astrbot: AstrBot) -> None:
    before = len(astrbot.llm.requests)
    astrbot.llm.script("hi")
    mark = astrbot.onebot.mark()
    astrbot.run(astrbot.onebot.send_private_message(USER_A, "hello"))
    astrbot.run(astrbot.onebot.wait_for_action(lambda a: a.text == "hi", timeout=20, since=mark))
    request = astrbot.llm.requests[before]
    assert set(request.tool_names) >= TOOLS
    assert "future_task" not in request.tool_names
    create = request.tool("future_task_create")
    params = create["function"]["parameters"] if "function" in create else create["parameters"]
    assert params["required"] == ["message"]
    assert params["properties"]["mode"]["enum"] == ["reminder", "main", "isolated"]
    description = (
        create["function"]["description"] if "function" in create else create["description"]
    )
    assert "Asia/Shanghai" in description and "current time is" in description


def test_remind_me_in_5_seconds_then_list_then_cancel(astrbot: AstrBot) -> None:
    mark = astrbot.onebot.mark()
    result = _chat(
        astrbot,
        USER_A,
        "remind me in 5 seconds to stretch",
        ToolCall("future_task_create", {"message": "time to stretch", "run_at": "5s"}),
        answer="I'll remind you in 5 seconds.",
    )
    assert "id: " in result and "next run:" in result and "(Asia/Shanghai)" in result, result
    arrived = astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.text == "time to stretch" and a.target == USER_A, timeout=15, since=mark
        )
    )
    assert arrived.name == "send_private_msg"

    result = _chat(
        astrbot,
        USER_A,
        "remind me every day at 9",
        ToolCall("future_task_create", {"message": "morning!", "cron": "0 9 * * *", "name": "am"}),
    )
    job_id = re.search(r"id: ([a-z0-9]{8})", result)[1]
    listing = _chat(astrbot, USER_A, "what tasks do I have?", ToolCall("future_task_list", {}))
    assert listing.startswith(f"{job_id} |") and "cron 0 9 * * *" in listing, listing
    cancelled = _chat(
        astrbot, USER_A, "cancel it", ToolCall("future_task_cancel", {"job_id": job_id})
    )
    assert f"Deleted task {job_id}" in cancelled
    assert "no scheduled tasks" in _chat(
        astrbot, USER_A, "and now?", ToolCall("future_task_list", {})
    )


def test_tool_errors_are_sentences_the_model_can_act_on(astrbot: AstrBot) -> None:
    result = _chat(
        astrbot,
        USER_A,
        "remind me yesterday",
        ToolCall("future_task_create", {"message": "x", "run_at": "2020-01-01T08:00"}),
    )
    assert result.startswith("Error: that time") and "in the past" in result
    result = _chat(
        astrbot,
        USER_A,
        "remind me",
        ToolCall("future_task_create", {"message": "x", "run_at": "1h", "cron": "0 9 * * *"}),
    )
    assert "exactly one of run_at" in result


def test_user_b_can_not_see_edit_run_or_cancel_user_as_job(astrbot: AstrBot) -> None:
    result = _chat(
        astrbot,
        USER_A,
        "every 2 hours remind me to drink",
        ToolCall("future_task_create", {"message": "drink", "every": "2h"}),
    )
    job_id = re.search(r"id: ([a-z0-9]{8})", result)[1]
    for name, args in [
        ("future_task_cancel", {"job_id": job_id}),
        ("future_task_edit", {"job_id": job_id, "message": "hijacked"}),
        ("future_task_run", {"job_id": job_id}),
        ("future_task_history", {"job_id": job_id}),
    ]:
        result = _chat(astrbot, USER_B, "do it", ToolCall(name, args))
        assert result.startswith("Error: no task with id"), (name, result)
    assert job_id not in _chat(astrbot, USER_B, "mine?", ToolCall("future_task_list", {}))
    edited = _chat(
        astrbot, USER_A, "pause", ToolCall("future_task_edit", {"job_id": job_id, "enabled": False})
    )
    assert f"Updated task {job_id}" in edited and "paused" in edited
    history = _chat(astrbot, USER_A, "runs?", ToolCall("future_task_history", {"job_id": job_id}))
    assert "has not run yet" in history
    time.sleep(0.2)
