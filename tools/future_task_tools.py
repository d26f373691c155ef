"""The ``future_task_*`` tools the host's main agent is offered (SPEC §8.1).

Flat parameters with precise JSON schemas (models handle flat parameters far better than
nested objects). Every result is a sentence the model can pass on or act on; every
refusal says what to fix. The tools go through the same service as the chat commands.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from astrbot.core.agent.run_context import ContextWrapper
from astrbot.core.agent.tool import FunctionTool
from astrbot.core.astr_agent_context import AstrAgentContext
from pydantic import Field
from pydantic.dataclasses import dataclass

from ..core import present, request_fields
from ..core.chat_safe import runs_seen_by
from ..core.errors import NotFound, UserError
from ..core.models import Job
from ..core.service import MAX_LIST_LIMIT, JobChanges, JobSpec, describe_next_run
from ..host.commands import actor_from_event
from ..host.executor import CURRENT_RUN

if TYPE_CHECKING:
    from ..host.runtime import Runtime

TOOL_NAMES = (
    "future_task_create",
    "future_task_list",
    "future_task_edit",
    "future_task_cancel",
    "future_task_run",
    "future_task_history",
)

_JOB_ID = {
    "type": "string",
    "description": "The task: its id (8 characters, from future_task_list), or its name or a "
    "piece of its text that matches exactly one of the user's tasks.",
}


def _schema(fields: dict[str, dict[str, Any]], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": fields, "required": required}


# ----- the arguments, checked against the tool's own schema ----------------------------------
# A model may send any JSON: "false" for false, "10" for 10, a number for a chat id, a list or
# an object anywhere, keys of another tool. They are checked here, once, before anything reads
# them; ranges, enums and the meaning of each value stay with the service.

_TRUTH_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _as_text(value: Any) -> str:
    """Text; a number becomes its digits (models send chat ids and such as numbers). A lone
    surrogate (JSON can carry ``"\\ud800"``) is refused here: no store, log or provider can
    encode it, and a job id is looked up before any other check would see it."""
    if isinstance(value, str):
        value.encode("utf-8")  # a UnicodeEncodeError (a ValueError) on a lone surrogate
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a ValueError past 4300 digits
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    raise TypeError


def _as_texts(value: Any) -> list[str]:
    """A list of texts; a single text is a list of one (models send one path as a string)."""
    return [_as_text(item) for item in (value if isinstance(value, list) else [value])]


def _as_truth(value: Any) -> bool:
    """true or false; also the words models send for them ("false", "yes", 0)."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, int | str) else None
    if word in _TRUTH_WORDS:
        return _TRUTH_WORDS[word]
    raise ValueError


def _as_whole_number(value: Any) -> int:
    """A whole number; also one written as text ("10") or as a float (10.0)."""
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise TypeError


_READERS: dict[str, Callable[[Any], Any]] = {
    "string": _as_text,
    "boolean": _as_truth,
    "integer": _as_whole_number,
    "array": _as_texts,
}


def _expected(schema: dict[str, Any]) -> str:
    """What a value of ``schema`` looks like, for the refusal."""
    kind = schema.get("type")
    if "enum" in schema:
        return "one of " + ", ".join(schema["enum"])
    if kind == "boolean":
        return "true or false"
    if kind == "integer":
        span = f" from {schema['minimum']} to {schema['maximum']}" if "maximum" in schema else ""
        return f"a whole number{span}"
    if kind == "array":
        return "a list of texts (paths or URLs)"
    return "text (a JSON string)"


def _shown(value: Any) -> str:
    """A bad value in a few characters: never the whole of a huge one, never a lone
    surrogate (repr escapes it), so the refusal itself can always be sent."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value[:20]) + ("..." if len(value) > 20 else "")
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, int) and value.bit_length() > 64:
        return "a very large number"
    return repr(value)


def _read(key: str, value: Any, schema: dict[str, Any]) -> Any:
    """``value`` as the type ``schema`` names, or a refusal that names ``key``."""
    try:
        return _READERS[schema["type"]](value)
    except UnicodeEncodeError:
        raise UserError(
            f"{key} contains a lone surrogate (text that is not valid Unicode); remove it"
        ) from None
    except (TypeError, ValueError):
        raise UserError(f"{key} must be {_expected(schema)}; got {_shown(value)}") from None


MAX_REFUSAL_CHARS = 500


def refusal(error: UserError) -> str:
    """``Error: <what was wrong and what to do>`` on one line of bounded length. A refusal
    that quotes the model's input (the service cuts its own quotes short, a plugin or
    AstrBot error may not) must never flood the model's context with it: a long one is cut
    in the middle, which keeps the advice at its end."""
    text = " ".join(str(error).split())
    if len(text) > MAX_REFUSAL_CHARS:
        text = f"{text[: MAX_REFUSAL_CHARS - 205]} ... {text[-200:]}"
    return f"Error: {text}"


def checked_arguments(
    tool: str, parameters: dict[str, Any], given: dict[str, Any]
) -> dict[str, Any]:
    """``given`` read by the tool's JSON schema: null means "not given", an unknown key or a
    value of the wrong type is refused by name, and a required argument must be there."""
    properties: dict[str, dict[str, Any]] = parameters["properties"]
    args: dict[str, Any] = {}
    for key, value in given.items():
        if value is None:
            continue
        if key not in properties:
            known = ", ".join(properties)
            raise UserError(f"unknown argument {key[:30]!r}; {tool} takes {known}")
        args[key] = _read(key, value, properties[key])
    for key in parameters.get("required", []):
        if key not in args:
            hint = properties[key].get("description", "")
            raise UserError(
                f"{key} is required" + (f"; {hint[:1].lower()}{hint[1:]}" if hint else "")
            )
    return args


async def resolve_job(runtime: Runtime, actor: Any, reference: str) -> str:
    """The id of the one task of the caller that ``reference`` names: its id, its name, or
    a piece of its name or text. Several matches are a refusal listing them (the model
    picks one by id); with none, the reference goes to the service as an id."""
    wanted = " ".join(reference.split()).lower()
    page = await runtime.service.list(actor, include_disabled=True, limit=MAX_LIST_LIMIT)
    by_id = [job for job in page.jobs if job.id == wanted]
    if by_id or not wanted:
        return by_id[0].id if by_id else reference
    named = [job for job in page.jobs if (job.name or "").lower() == wanted]
    matches = named or [job for job in page.jobs if wanted in _searchable(job)]
    if len(matches) == 1:
        return matches[0].id
    if not matches:
        return reference  # an id of someone else's task (admins), or not found by the service
    candidates = " | ".join(present.job_line(job) for job in matches[:10])
    raise UserError(
        f"{len(matches)} tasks match {reference[:40]!r}; call again with one id: {candidates}"
    )


def _searchable(job: Job) -> str:
    return f"{job.name or ''}\n{job.payload.message}".lower()


@dataclass
class FutureTaskTool(FunctionTool[AstrAgentContext]):
    """Shared by the six tools: who is asking, the no-recursion rule, error sentences."""

    runtime: Any = Field(default=None, repr=False)

    async def call(self, context: ContextWrapper[AstrAgentContext], /, **kwargs: Any) -> str:
        """Positional-only ``context``: an argument the model calls "context" (or "self")
        lands in ``kwargs`` and is refused like any unknown key, instead of a TypeError."""
        if CURRENT_RUN.get() is not None:
            return (
                "Error: a scheduled run can not create or change scheduled tasks. Do the work "
                "now and report the result instead."
            )
        runtime: Runtime = self.runtime
        actor = actor_from_event(context.context.event)
        try:
            args = checked_arguments(self.name, self.parameters, kwargs)
            return await self.act(runtime, actor, args)
        except NotFound as exc:
            return refusal(NotFound(f"{exc}. Call future_task_list to see the user's tasks."))
        except UserError as exc:
            return refusal(exc)

    async def act(self, runtime: Runtime, actor: Any, args: dict[str, Any]) -> str:
        raise NotImplementedError


@dataclass
class CreateTool(FutureTaskTool):
    name: str = "future_task_create"
    description: str = (
        "Schedule a task: a reminder sent at a time, or an agent run that does something "
        "later or repeatedly. Give exactly one of run_at, every or cron."
    )
    parameters: dict = Field(
        default_factory=lambda: _schema(request_fields.tool_properties(edit=False), ["message"])
    )

    async def act(self, runtime: Runtime, actor: Any, args: dict[str, Any]) -> str:
        job = await runtime.service.create(actor, JobSpec.from_mapping(args))
        return (await runtime.creation_reply(job)).replace("\n", "; ")


@dataclass
class ListTool(FutureTaskTool):
    name: str = "future_task_list"
    description: str = "List the user's scheduled tasks, one line each (id first)."
    parameters: dict = Field(
        default_factory=lambda: _schema(
            {
                "include_disabled": {
                    "type": "boolean",
                    "description": "Also list paused tasks (default true).",
                }
            },
            [],
        )
    )

    async def act(self, runtime: Runtime, actor: Any, args: dict[str, Any]) -> str:
        include = args.get("include_disabled", True)
        page = await runtime.service.list(actor, include_disabled=include, limit=100)
        if not page.jobs:
            return "The user has no scheduled tasks."
        return "\n".join(present.job_line(job) for job in page.jobs)


@dataclass
class EditTool(FutureTaskTool):
    name: str = "future_task_edit"
    description: str = (
        "Change a scheduled task: any field of future_task_create, or enabled=false to pause "
        "and enabled=true to resume. Changing run_at/every/cron/tz reschedules it."
    )
    parameters: dict = Field(
        default_factory=lambda: _schema(
            {
                "job_id": _JOB_ID,
                **request_fields.tool_properties(edit=True),
            },
            ["job_id"],
        )
    )

    async def act(self, runtime: Runtime, actor: Any, args: dict[str, Any]) -> str:
        job_id = await resolve_job(runtime, actor, args.pop("job_id"))
        changes = JobChanges.from_mapping(args)
        job = await runtime.service.edit(actor, job_id, changes)  # type: ignore[arg-type]
        said = [f"Updated task {job.id} ({job.payload.mode.value})", describe_next_run(job)]
        return "; ".join(said + present.interpreted_time(job, job.updated_at)) + "."


@dataclass
class CancelTool(FutureTaskTool):
    name: str = "future_task_cancel"
    description: str = "Delete a scheduled task for good."
    parameters: dict = Field(default_factory=lambda: _schema({"job_id": _JOB_ID}, ["job_id"]))

    async def act(self, runtime: Runtime, actor: Any, args: dict[str, Any]) -> str:
        job_id = await resolve_job(runtime, actor, args["job_id"])
        job = await runtime.service.cancel(actor, job_id)
        return f"Deleted task {job.id} ({job.display_name})."


@dataclass
class RunTool(FutureTaskTool):
    name: str = "future_task_run"
    description: str = "Run a scheduled task right now; its schedule does not change."
    parameters: dict = Field(default_factory=lambda: _schema({"job_id": _JOB_ID}, ["job_id"]))

    async def act(self, runtime: Runtime, actor: Any, args: dict[str, Any]) -> str:
        job_id = await resolve_job(runtime, actor, args["job_id"])
        run_id = await runtime.service.run_now(actor, job_id)
        return f"Started a run of task {job_id} (run {run_id}); its schedule is unchanged."


@dataclass
class HistoryTool(FutureTaskTool):
    name: str = "future_task_history"
    description: str = "Recent runs of a task: time, status, delivery and a short output."
    parameters: dict = Field(
        default_factory=lambda: _schema(
            {
                "job_id": _JOB_ID,
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 50,
                    "description": "Default 10.",
                },
            },
            ["job_id"],
        )
    )

    async def act(self, runtime: Runtime, actor: Any, args: dict[str, Any]) -> str:
        job = await runtime.service.get(actor, await resolve_job(runtime, actor, args["job_id"]))
        runs, total = await runtime.service.history(actor, job.id, limit=args.get("limit", 10))
        if not runs:
            return f"Task {job.id} has not run yet; {describe_next_run(job)}."
        lines = [f"{len(runs)} of {total} runs of {job.id}, newest first:"]
        runs = runs_seen_by(runs, actor.is_admin)  # a member's model relays it to the chat
        return "\n".join(lines + [present.run_line(r, job.schedule.tz) for r in runs])


def build_tools(runtime: Runtime) -> list[FutureTaskTool]:
    tools = [
        cls(runtime=runtime)
        for cls in (CreateTool, ListTool, EditTool, CancelTool, RunTool, HistoryTool)
    ]
    refresh_descriptions(tools, runtime)
    return tools


def refresh_descriptions(tools: list[FutureTaskTool], runtime: Runtime) -> None:
    """Tell the model the zone and the current time, so it computes run_at correctly."""
    from ..core.schedule import format_local, ms_to_local

    tz = runtime.settings.timezone
    now_ms = runtime.engine.clock.now_ms()
    now = f"{ms_to_local(now_ms, tz):%A}, {format_local(now_ms, tz)}"
    rules = (
        f" Times without an offset are read in the task's zone (default {tz}); the current "
        f"time is {now}. Replies state the next run in the task's zone: tell the user."
    )
    for tool in tools:
        base = type(tool).__dataclass_fields__["description"].default
        tool.description = (
            f"{base}{rules}" if tool.name in ("future_task_create", "future_task_edit") else base
        )
