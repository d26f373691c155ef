"""Conformance: every request field reaches the service from every door that takes it.

core/request_fields.py declares each field once and says which door takes it under which
name. These tests send each field through each door - the real ``future_task_*`` tools,
the web body parsers, the ``/cron`` grammar - and check the value arrives in the JobSpec or
JobChanges the service receives; a door the table says does not take a field refuses it,
with a message that names it.
"""

from __future__ import annotations

from typing import Any

import pytest

from core import cron_command, views
from core.errors import UserError
from core.request_fields import DOORS, EDIT_ONLY, TAKES_VALUE, JobFields
from core.service import JobChanges, JobSpec

from .conftest import ADMIN
from .test_tool_args import (  # noqa: F401 - a fixture, used by name
    ToolWorld,
    sync_world,
    tool_world,
)

SAMPLES: dict[str, Any] = {
    "message": "tea",
    "mode": "isolated",
    "when": "20m",
    "run_at": "20m",
    "every": "2h",
    "cron": "0 8 * * *",
    "tz": "Asia/Shanghai",
    "name": "am",
    "deliver": False,
    "channel": "telegram",
    "to": "-100123",
    "best_effort": True,
    "delete_after_run": False,
    "catch_up": "skip",
    "provider_id": "fast",
    "persona_id": "helper",
    "timeout_seconds": 120,
    "wake_mode": "next-heartbeat",
    "media": ["https://example.com/a.png"],
    "post_prefix": "Daily",
    "enabled": False,
}
FIELDS = list(JobFields.model_fields)
CREATE_FIELDS = [name for name in FIELDS if name not in EDIT_ONLY]
SESSION = "qq:FriendMessage:1001"
GRAMMAR = {"message": "the text (--text on edit)", "when": "the <when> word"}


def test_every_declared_field_has_a_sample_and_a_door_table_row() -> None:
    assert set(SAMPLES) == set(FIELDS) == set(DOORS)


def test_the_service_requests_have_every_declared_field() -> None:
    assert set(CREATE_FIELDS) <= set(JobSpec.__dataclass_fields__)
    assert set(FIELDS) <= set(JobChanges.__dataclass_fields__)


# ----- the web body ------------------------------------------------------------------------


@pytest.mark.parametrize("field", FIELDS)
def test_a_web_body_field_reaches_the_service_under_each_of_its_names(field: str) -> None:
    for web_name in DOORS[field].web:
        body = {web_name: SAMPLES[field]}
        changes = views.parse_changes(body)
        assert getattr(changes, field) == SAMPLES[field], web_name
        if field in EDIT_ONLY:
            with pytest.raises(UserError, match=f"unknown field '{web_name}'"):
                views.parse_create({"session": SESSION, **body})
        else:
            spec = views.parse_create({"session": SESSION, **body}).spec
            assert getattr(spec, field) == SAMPLES[field], web_name


# ----- the /cron grammar -------------------------------------------------------------------


def _cron_cases() -> list[tuple[str, str, Any]]:
    """(field, option, the value the service must receive) for every /cron option."""
    return [
        (field, option, str(SAMPLES[field]) if value == TAKES_VALUE else value)
        for field, doors in DOORS.items()
        for option, value in doors.cron.items()
    ]


@pytest.mark.parametrize(("field", "option", "expected"), _cron_cases())
def test_a_cron_option_reaches_the_service_in_add_and_edit(
    field: str, option: str, expected: Any
) -> None:
    words = f"{option} {expected}" if DOORS[field].cron[option] == TAKES_VALUE else option
    spec = cron_command.job_spec(cron_command.parse(f"add 20m {words} stretch"))
    assert getattr(spec, field) == expected and spec.message == "stretch"
    changes = cron_command.job_changes(cron_command.parse(f"edit abc123 {words}"))
    assert getattr(changes, field) == expected


def test_cron_fills_the_text_and_the_when_from_its_grammar() -> None:
    spec = cron_command.job_spec(cron_command.parse("add 20m stretch"))
    assert (spec.message, spec.when, spec.mode) == ("stretch", "20m", "reminder")
    changes = cron_command.job_changes(cron_command.parse("edit abc123 2h --text tea"))
    assert (changes.message, changes.when, changes.mode) == ("tea", "2h", None)


@pytest.mark.parametrize("field", [f for f in FIELDS if not DOORS[f].cron and f not in GRAMMAR])
def test_cron_has_no_option_for_a_field_the_table_keeps_from_it(field: str) -> None:
    option = "--" + field.replace("_", "-")
    with pytest.raises(UserError, match=f"unknown option '{option}'"):
        cron_command.parse(f"add 20m {option} x stretch")


# ----- the tools ---------------------------------------------------------------------------


def _spy(tw: ToolWorld, method: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Make the service's ``method`` record the request it receives, then refuse it."""
    seen: list[Any] = []

    async def record(actor: Any, *args: Any) -> Any:
        seen.append(args[-1])
        raise UserError("received")

    monkeypatch.setattr(tw.world.service, method, record)
    return seen


@pytest.mark.parametrize("field", FIELDS)
def test_a_tool_argument_reaches_the_service_or_is_refused_by_name(
    tool_world: ToolWorld,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
    field: str,
) -> None:
    name = DOORS[field].tool
    job_id = tool_world.run(tool_world.job_of(ADMIN))
    created = _spy(tool_world, "create", monkeypatch)
    edited = _spy(tool_world, "edit", monkeypatch)
    for tool, base, seen in (
        ("future_task_create", {"message": "tea", "run_at": "20m"}, created),
        ("future_task_edit", {"job_id": job_id}, edited),
    ):
        takes = name is not None and (tool == "future_task_edit" or field not in EDIT_ONLY)
        asked = name if takes else field
        reply = tool_world.run(tool_world.call(tool, ADMIN, {**base, asked: SAMPLES[field]}))
        if takes:
            assert reply == "Error: received", reply
            assert getattr(seen.pop(), field) == SAMPLES[field]
        else:
            assert f"unknown argument '{field}'" in reply, reply
