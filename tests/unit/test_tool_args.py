"""Property tests: whatever JSON a model sends as ``future_task_*`` arguments, the tool
answers with a string and never raises.

A model can send anything: a number for a string, ``"abc"`` for ``limit``, ``"false"`` for
false, lists, objects, keys from another tool, 100 KB messages, control characters, lone
surrogates, unknown zones, cron dates that never come, no ``job_id`` at all, or the id of
someone else's task. The properties:

- a call never raises: it returns a string a provider can send on (valid UTF-8);
- a refusal is one short sentence starting with ``Error:`` and changes nothing;
- every job a call stored loads back from the store;
- another user's job id reads exactly like an id that does not exist, and nothing changes.

The real tool classes run against a real TaskService on a temp SQLite store; only the
AstrBot context around them is stood in (a real event, a real ``ContextWrapper``).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.machinery
import importlib.util
import os
import pkgutil
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import core
from core.models import Job
from core.service import Actor

from .conftest import ADMIN, ALICE, BOB, World
from .test_bad_input import (
    BAD_ZONES,
    WORLD,
    ZONES,
    _all_rows_load,
    _fields,
    clock_time,
    cron_like,
    duration,
    every,
    iso,
    json_values,
    junk,
    sync_world,  # noqa: F401 - a fixture, used by name
)

if TYPE_CHECKING:
    from astrbot.core.agent.run_context import ContextWrapper
    from astrbot.core.astr_agent_context import AstrAgentContext
    from astrbot.core.platform.astr_message_event import AstrMessageEvent

# ----- the plugin's tools, imported the way AstrBot imports them ---------------------------

PACKAGE = "future_tasks_under_test"


def _plugin_module(name: str) -> ModuleType:
    """A module of the plugin, imported as part of a package (it uses relative imports),
    whose ``core`` is the very ``core`` these tests use: then the UserError the service
    raises is the one the tools catch, and the conftest world serves both."""
    if PACKAGE not in sys.modules:
        # Importing astrbot.core writes a data folder under ASTRBOT_ROOT (default: the
        # working directory, i.e. this repo); give it a throwaway one.
        os.environ.setdefault("ASTRBOT_ROOT", str(Path(tempfile.gettempdir(), "ft-unit-astrbot")))
        spec = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
        spec.submodule_search_locations = [str(Path(__file__).resolve().parents[2])]
        sys.modules[PACKAGE] = importlib.util.module_from_spec(spec)
        sys.modules[f"{PACKAGE}.core"] = core
        for info in pkgutil.iter_modules(core.__path__):
            sys.modules[f"{PACKAGE}.core.{info.name}"] = importlib.import_module(
                f"core.{info.name}"
            )
    return importlib.import_module(f"{PACKAGE}.{name}")


tools = _plugin_module("tools.future_task_tools")
commands = _plugin_module("host.commands")
executor = _plugin_module("host.executor")

TOOL_NAMES: tuple[str, ...] = tools.TOOL_NAMES
MISSING_ID = "zz0000zz"  # shaped like an id; no job has it (ids are 8 random characters)
OWN, OTHER, MISSING = "<own job>", "<another user's job>", "<missing job>"
SECRET = "alice's secret plan"


def event_for(actor: Actor) -> AstrMessageEvent:
    """A real AstrBot message event from ``actor``: the session, sender and role that
    ``actor_from_event`` reads."""
    from astrbot.core.platform.astr_message_event import AstrMessageEvent
    from astrbot.core.platform.astrbot_message import AstrBotMessage, MessageMember
    from astrbot.core.platform.message_type import MessageType
    from astrbot.core.platform.platform_metadata import PlatformMetadata

    platform, kind, session = actor.origin.split(":", 2)
    message = AstrBotMessage()
    message.type = MessageType(kind)
    message.sender = MessageMember(actor.sender_id, actor.sender_name)
    message.session_id, message.message, message.message_str = session, [], ""
    event = AstrMessageEvent("", message, PlatformMetadata(platform, "", platform), session)
    event.role = "admin" if actor.is_admin else "member"
    return event


def context_for(actor: Actor) -> ContextWrapper[AstrAgentContext]:
    """What the agent runner hands a tool. The star Context is never touched by these
    tools, so an unconstructed one stands in for AstrBot's (which needs the whole core)."""
    from astrbot.core.agent.run_context import ContextWrapper
    from astrbot.core.astr_agent_context import AstrAgentContext
    from astrbot.core.star.context import Context

    star_context = object.__new__(Context)
    return ContextWrapper(context=AstrAgentContext(context=star_context, event=event_for(actor)))


@dataclass
class ToolRuntime:
    """The part of ``host.runtime.Runtime`` the tools use. ``creation_reply`` is the real
    text without the platform notes (those need AstrBot's platforms)."""

    world: World

    @property
    def service(self) -> Any:
        return self.world.service

    @property
    def settings(self) -> Any:
        return self.world.settings

    @property
    def engine(self) -> Any:
        return self.world.engine

    async def creation_reply(self, job: Job) -> str:
        return commands.creation_text(job, [])


@dataclass
class ToolWorld:
    """The six tools over one test world, called the way AstrBot's agent runner calls them."""

    loop: asyncio.AbstractEventLoop
    world: World
    tools: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        built = tools.build_tools(ToolRuntime(self.world))
        self.tools = {tool.name: tool for tool in built}

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    async def call(self, name: str, actor: Actor, args: dict[str, Any]) -> Any:
        """One tool call; lets the runs it started finish, so the store is settled."""
        reply = await self.tools[name].call(context_for(actor), **args)
        await self.world.engine.drain()
        return reply

    async def job_of(self, actor: Actor) -> str:
        """The id of a task ``actor`` owns (one is made when there is none)."""
        page = await self.world.store.list_jobs(owner_key_is=actor.key, limit=1)
        if page.jobs:
            return page.jobs[0].id
        message = SECRET if actor is ALICE else "tea"
        return (await self.world.create(actor, message=message, every="2h")).id

    async def resolve(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """``args`` with a job-id marker replaced by a real id."""
        job_id = args.get("job_id")
        if job_id == OWN:
            return {**args, "job_id": await self.job_of(caller)}
        if job_id == OTHER:
            return {**args, "job_id": await self.job_of(ALICE if caller is BOB else BOB)}
        if job_id == MISSING:
            return {**args, "job_id": MISSING_ID}
        return args

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every stored job, as loaded back from the store (all rows must load)."""
        await _all_rows_load(self.world)
        page = await self.world.store.list_jobs(limit=10**6)
        return {job.id: _fields(job) for job in page.jobs}


@pytest.fixture
def tool_world(request: pytest.FixtureRequest) -> ToolWorld:
    """The tools over ``sync_world`` (one store and loop shared by a test's examples)."""
    loop, world = request.getfixturevalue("sync_world")
    return ToolWorld(loop, world)


# ----- what every reply must be --------------------------------------------------------------

MAX_REFUSAL_CHARS = len("Error: ") + tools.MAX_REFUSAL_CHARS
PYTHON_LEAKS = (
    "Traceback",
    "object has no attribute",
    "invalid literal",
    "NoneType",
    "validation error",
    "unhashable",
    "got multiple values",
    "not supported between",
    "takes no arguments",
    "object is not",
)


def assert_a_string_a_provider_can_send(reply: Any) -> None:
    assert isinstance(reply, str) and reply.strip(), repr(reply)[:200]
    reply.encode("utf-8")  # a lone surrogate here breaks the request to the provider


def assert_a_clear_refusal(reply: str) -> None:
    """One short line, ``Error: `` and a sentence, with no Python internals in it."""
    assert reply.startswith("Error: ") and reply[7:].strip(), reply[:200]
    assert "\n" not in reply, reply[:200]
    assert len(reply) <= MAX_REFUSAL_CHARS, f"{len(reply)} chars: {reply[:200]}"
    assert not any(leak in reply for leak in PYTHON_LEAKS), reply[:200]


# ----- strategies ----------------------------------------------------------------------------

bool_words = st.sampled_from(
    ["true", "false", "True", "FALSE", " false ", "yes", "no", "1", "0", "maybe", "", "null"]
)
number_words = st.sampled_from(
    ["10", " 5 ", "-1", "0", "1.5", "abc", "1e3", "١٠", "ten", "", "99999999999999999999"]
)
huge_text = st.builds(
    lambda char, n: char * n,
    st.sampled_from(["a", "9", " ", "\x00", "\ud800", "字", "🙂", "\n", "*"]),
    st.integers(100_000, 120_000),
)
any_value = (
    json_values
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats()
    | bool_words
    | number_words
    | st.just([])
    | st.just({})
    | huge_text
)
flag = st.booleans() | bool_words
# Five cron fields, one of them anything: core echoes such an expression in its refusal.
in_cron = st.builds(
    lambda fields, i, wild: " ".join([*fields[:i], wild, *fields[i + 1 :]]),
    st.just(["0", "0", "31", "2", "*"]) | st.just(["*"] * 5),
    st.integers(0, 4),
    junk.filter(lambda t: t.strip() and len(t.split()) == 1) | huge_text.map(str.strip),
)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "message": st.sampled_from(["tea", " check the news and tell me ", "x" * 8000, "\x07hi"])
    | junk,
    "mode": st.sampled_from(["reminder", "main", "isolated", "MAIN", " isolated ", "agent", ""]),
    "run_at": duration | iso | clock_time | in_cron | st.sampled_from(["20m", "in 5m"]) | junk,
    "every": duration | every | st.sampled_from(["30m", "2h", "1s", "0s"]) | junk,
    "cron": cron_like | in_cron,
    "tz": ZONES | BAD_ZONES | junk | huge_text,
    "name": st.sampled_from(["am", "", "n" * 81]) | junk,
    "deliver": flag,
    "channel": st.sampled_from(["", "last", "qq", "qq:FriendMessage:1001", "tg:GroupMessage:-1"]),
    "to": st.sampled_from(["", "1001", "qq:FriendMessage:1001", "qq:GroupMessage:5"])
    | st.integers(0, 10**12),
    "delete_after_run": flag,
    "catch_up": st.sampled_from(["once", "skip", "all", "ALL ", "never", ""]),
    "model": st.sampled_from(["", "openai", "gpt-4o"]),
    "timeout_seconds": st.integers(-5, 10**6) | number_words,
    "post_prefix": st.sampled_from(["", "Daily", "日报", "p" * 41]) | junk,
    "best_effort": flag,
    "persona": st.sampled_from(["", "default", "helper"]) | junk,
    "wake_mode": st.sampled_from(["now", "next-heartbeat", "NOW ", "later", ""]),
    "media": st.sampled_from([[], ["https://example.com/a.png"], "https://example.com/a.png"])
    | st.lists(junk, max_size=2)
    | st.just(["/etc/passwd"]),
    "enabled": flag,
    "include_disabled": flag,
    "limit": st.integers(-5, 100) | number_words | st.floats(),
    "job_id": st.sampled_from([OWN, OTHER, MISSING]),
}
SCHEDULE_FIELDS = ("run_at", "every", "cron")
# Keys a model may borrow from elsewhere (JobSpec, other tools, the call itself).
EXTRA_KEYS = st.sampled_from(
    ["when", "media", "wake_mode", "persona_id", "best_effort", "provider_id", "provider",
     "text", "id", "context", "self", "kwargs", "args", "Message", " message", "job-id"]
)  # fmt: skip


TOOL_CLASSES = (
    tools.CreateTool,
    tools.ListTool,
    tools.EditTool,
    tools.CancelTool,
    tools.RunTool,
    tools.HistoryTool,
)
PARAMETERS: dict[str, dict[str, Any]] = {
    tool.name: tool.parameters for tool in (cls() for cls in TOOL_CLASSES)
}


def _some_of(keys: list[str], most: int) -> st.SearchStrategy[dict[str, Any]]:
    """Up to ``most`` of ``keys``, each with a plausible value for it."""
    return st.lists(st.sampled_from(keys), max_size=most, unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries({k: PLAUSIBLE[k] for k in chosen})
    )


def mostly_right(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """The required arguments, one schedule for a create, and a few others: calls that
    often succeed, so stored jobs are checked as well as refusals."""
    props = list(PARAMETERS[name]["properties"])
    required = st.fixed_dictionaries({k: PLAUSIBLE[k] for k in PARAMETERS[name]["required"]})
    if name != "future_task_create":
        return st.builds(lambda a, b: {**a, **b}, required, _some_of(props, 3))
    schedule = st.sampled_from(SCHEDULE_FIELDS).flatmap(
        lambda k: PLAUSIBLE[k].map(lambda v: {k: v})
    )
    others = [k for k in props if k not in (*SCHEDULE_FIELDS, "message")]
    return st.builds(lambda a, b, c: {**a, **b, **c}, required, schedule, _some_of(others, 3))


def odd(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """A few keys (the tool's own, borrowed or junk) with any JSON value at all."""
    keys = st.sampled_from(sorted(PARAMETERS[name]["properties"])) | EXTRA_KEYS | junk
    return st.dictionaries(keys, any_value, max_size=3)


def tool_args(name: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        mostly_right(name),
        st.builds(lambda a, b: {**a, **b}, mostly_right(name), odd(name)),
        odd(name),
    )


tool_calls = st.sampled_from(TOOL_NAMES).flatmap(
    lambda name: tool_args(name).map(lambda args: (name, args))
)
actors = st.sampled_from([ALICE, BOB, ADMIN])


# ----- 1. any call: a string back, a clear refusal, loadable jobs -----------------------------


@WORLD
@given(calls=st.lists(tool_calls, min_size=1, max_size=3), actor=actors)
def test_a_tool_call_answers_in_a_string_and_every_stored_job_loads(
    tool_world: ToolWorld, calls: list[tuple[str, dict[str, Any]]], actor: Actor
) -> None:
    async def go() -> None:
        for name, raw in calls:
            args = await tool_world.resolve(raw, actor)
            before = await tool_world.snapshot()
            ran_before = len(tool_world.world.executor.runs)
            reply = await tool_world.call(name, actor, args)
            assert_a_string_a_provider_can_send(reply)
            after = await tool_world.snapshot()
            if reply.startswith("Error:"):
                event(f"{name}: refused")
                assert_a_clear_refusal(reply)
                assert after == before
                assert len(tool_world.world.executor.runs) == ran_before
            else:
                event(f"{name}: done")
                await _check_success(tool_world, name, actor, args, reply, before, after)

    tool_world.run(go())


async def _check_success(
    tw: ToolWorld,
    name: str,
    actor: Actor,
    args: dict[str, Any],
    reply: str,
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
) -> None:
    """What a call that was not refused did, and that it did nothing else."""
    if name == "future_task_create":
        match = re.search(r"\bid: (\w+)", reply)
        assert match, reply
        job_id = match[1]
        assert job_id in after and job_id not in before
        assert after[job_id]["owner"]["sender_id"] == actor.sender_id
        assert 0 < len(after[job_id]["payload"]["message"]) <= tw.world.settings.max_message_chars
        after = {k: v for k, v in after.items() if k != job_id}
    elif name in ("future_task_edit", "future_task_cancel", "future_task_run"):
        job_id = str(args["job_id"]).strip().lower()
        assert job_id in before, reply
        if name == "future_task_cancel":
            assert job_id not in after
        if name == "future_task_run":
            assert tw.world.executor.ran(job_id), reply
        before = {k: v for k, v in before.items() if k != job_id}
        after = {k: v for k, v in after.items() if k != job_id}
    assert after == before, f"{name} changed other tasks: {reply}"


# ----- 2. a wrongly typed argument is refused by name ----------------------------------------

lists_and_objects = st.lists(junk, max_size=2) | st.dictionaries(st.text(max_size=4), junk)
WRONG_TYPE: dict[str, st.SearchStrategy[Any]] = {
    "string": st.booleans() | lists_and_objects,
    "boolean": st.sampled_from(["maybe", "", "2", "null", "on?"])
    | st.integers().filter(lambda i: i not in (0, 1))
    | st.floats()
    | lists_and_objects,
    "integer": st.sampled_from(["abc", "1.5", "", "ten", "1e3", "5 minutes"])
    | st.booleans()
    | st.floats().filter(lambda f: not f.is_integer())
    | lists_and_objects,
    "array": st.booleans()
    | st.dictionaries(st.text(max_size=4), junk)
    | st.lists(st.booleans() | st.just({}) | st.just([]), min_size=1, max_size=2),
}
typed_fields = st.sampled_from(
    [(name, key) for name in TOOL_NAMES for key in PARAMETERS[name]["properties"]]
)


@WORLD
@given(target=typed_fields, data=st.data())
def test_a_wrongly_typed_argument_is_refused_by_name(
    tool_world: ToolWorld, target: tuple[str, str], data: st.DataObject
) -> None:
    name, key = target
    kind = PARAMETERS[name]["properties"][key]["type"]
    wrong = data.draw(WRONG_TYPE[kind], label=f"{key} ({kind})")

    async def go() -> None:
        base = {"message": "tea", "run_at": "20m"} if name == "future_task_create" else {}
        if "job_id" in PARAMETERS[name]["properties"]:
            base["job_id"] = await tool_world.job_of(ALICE)
        before = await tool_world.snapshot()
        reply = await tool_world.call(name, ALICE, {**base, key: wrong})
        assert_a_clear_refusal(reply)
        assert key in reply, reply
        assert await tool_world.snapshot() == before

    tool_world.run(go())


# ----- 3. another user's job id reads as missing ---------------------------------------------

ID_FORMS = st.sampled_from([str, str.upper, lambda s: f" {s} ", lambda s: f"{s}\n"])
BY_ID = ("future_task_edit", "future_task_cancel", "future_task_run", "future_task_history")


@WORLD
@given(
    name=st.sampled_from(BY_ID),
    data=st.data(),
    form=ID_FORMS,
    caller=st.sampled_from([BOB, Actor("tg:FriendMessage:1001", ALICE.sender_id)]),
)
def test_another_users_job_id_reads_as_missing_and_changes_nothing(
    tool_world: ToolWorld, name: str, data: st.DataObject, form: Any, caller: Actor
) -> None:
    """Bob (or Alice's sender id on another platform: a different owner) gets, for Alice's
    task id, the very reply an id that does not exist gets, and the task stays as it was."""
    args = data.draw(tool_args(name), label="args")

    async def go() -> None:
        job_id = await tool_world.job_of(ALICE)
        before = await tool_world.snapshot()
        runs_before = len(tool_world.world.executor.ran(job_id))
        reply = await tool_world.call(name, caller, {**args, "job_id": form(job_id)})
        missing = await tool_world.call(name, caller, {**args, "job_id": form(MISSING_ID)})
        assert_a_clear_refusal(reply)
        assert reply.replace(form(job_id).strip(), "?") == missing.replace(
            form(MISSING_ID).strip(), "?"
        )
        assert SECRET not in reply
        assert await tool_world.snapshot() == before
        assert len(tool_world.world.executor.ran(job_id)) == runs_before

    tool_world.run(go())


@pytest.mark.parametrize("name", BY_ID)
def test_another_users_job_id_alone_is_not_found(tool_world: ToolWorld, name: str) -> None:
    async def go() -> None:
        job_id = await tool_world.job_of(ALICE)
        reply = await tool_world.call(name, BOB, {"job_id": job_id})
        assert reply.startswith("Error: no task with id"), reply
        assert await tool_world.call(name, ALICE, {"job_id": job_id}) != reply

    tool_world.run(go())


# ----- 4. the cases the issue names, one by one ----------------------------------------------

EXAMPLES: list[tuple[str, dict[str, Any], str]] = [
    ("future_task_history", {"job_id": OWN, "limit": "abc"}, "limit"),
    ("future_task_history", {"job_id": OWN, "limit": [5]}, "limit"),
    ("future_task_history", {"job_id": OWN, "limit": 2.5}, "limit"),
    ("future_task_create", {"message": "x", "run_at": "20m", "timeout_seconds": "abc"}, "timeout"),
    ("future_task_create", {"message": "x", "run_at": "20m", "timeout_seconds": 1e309}, "timeout"),
    ("future_task_create", {"message": "x", "cron": "0 0 31 2 *"}, "never fires"),
    ("future_task_create", {"message": "x", "every": "2h", "tz": "Mars/Olympus"}, "time zone"),
    ("future_task_create", {"message": "x", "every": "2h", "tz": 8}, "time zone"),
    ("future_task_create", {"message": "x", "every": "2h", "tz": ["UTC"]}, "tz"),
    ("future_task_create", {"message": "x", "every": "2h", "tz": "a" * 100_000}, "IANA name"),
    ("future_task_create", {"message": "x", "cron": "a" * 100_000 + " * * * *"}, "cron"),
    ("future_task_create", {"message": "x", "cron": "\ud800 * * * *"}, "cron"),
    ("future_task_create", {"message": "x" * 100_000, "run_at": "20m"}, "shorten"),
    ("future_task_create", {"message": "tea \ud800", "run_at": "20m"}, "surrogate"),
    ("future_task_create", {"message": "\x00\x01\x02", "run_at": "20m"}, "message is empty"),
    ("future_task_create", {"message": ["tea"], "run_at": "20m"}, "message"),
    ("future_task_create", {"run_at": "20m"}, "message"),
    ("future_task_create", {"message": "x", "run_at": {"in": "20m"}}, "run_at"),
    ("future_task_create", {"message": "x", "run_at": "20m", "deliver": "maybe"}, "deliver"),
    ("future_task_create", {"message": "x", "run_at": "20m", "to": True}, "to"),
    ("future_task_create", {"message": "x", "run_at": "20m", "model": {"id": 1}}, "model"),
    ("future_task_create", {"message": "x", "run_at": "20m", "when": "1h"}, "'when'"),
    ("future_task_create", {"message": "x", "run_at": "20m", "wake_mode": 5}, "next-heartbeat"),
    ("future_task_create", {"message": "x", "run_at": "20m", "media": [True]}, "media"),
    ("future_task_create", {"message": "x", "run_at": "20m", "context": "x"}, "'context'"),
    ("future_task_create", {"message": "x", "run_at": "20m", "self": 1}, "'self'"),
    ("future_task_create", {"message": "x"}, "exactly one of"),
    ("future_task_list", {"include_disabled": "maybe"}, "include_disabled"),
    ("future_task_edit", {"enabled": False}, "job_id"),
    ("future_task_edit", {"job_id": OWN, "enabled": "paused"}, "enabled"),
    ("future_task_edit", {"job_id": OWN, "bogus": 1}, "'bogus'"),
    ("future_task_cancel", {}, "job_id"),
    ("future_task_cancel", {"job_id": None}, "job_id"),
    ("future_task_cancel", {"job_id": "\ud800" * 100_000}, "job_id contains a lone surrogate"),
    ("future_task_run", {"job_id": {"id": "x"}}, "job_id"),
    ("future_task_run", {"job_id": MISSING}, "no task with id"),
]


@pytest.mark.parametrize(
    ("name", "args", "says"), EXAMPLES, ids=[f"{n[12:]}-{s}" for n, _, s in EXAMPLES]
)
def test_a_bad_argument_gets_an_error_sentence_that_says_what_to_fix(
    tool_world: ToolWorld, name: str, args: dict[str, Any], says: str
) -> None:
    async def go() -> None:
        resolved = await tool_world.resolve(args, ALICE)
        before = await tool_world.snapshot()
        reply = await tool_world.call(name, ALICE, resolved)
        assert_a_string_a_provider_can_send(reply)
        assert_a_clear_refusal(reply)
        assert says in reply, reply
        assert await tool_world.snapshot() == before

    tool_world.run(go())


@pytest.mark.parametrize(
    ("word", "meant"),
    [("false", False), (" FALSE ", False), ("no", False), (0, False), ("0", False),
     ("true", True), ("True", True), ("yes", True), (1, True), (True, True)],
)  # fmt: skip
def test_a_boolean_sent_as_a_word_means_what_it_says(
    tool_world: ToolWorld, word: Any, meant: bool
) -> None:
    async def go() -> None:
        job_id = (await tool_world.world.create(ALICE, message="tea", every="2h")).id
        await tool_world.world.service.set_enabled(ALICE, job_id, not meant)
        args = {"job_id": job_id, "enabled": word, "delete_after_run": word, "deliver": word}
        reply = await tool_world.call("future_task_edit", ALICE, args)
        assert reply.startswith("Updated task"), reply
        job = await tool_world.world.job(job_id)
        assert job is not None
        assert (job.enabled, job.delete_after_run, job.target.deliver) == (meant, meant, meant)
        listed = await tool_world.call("future_task_list", ALICE, {"include_disabled": word})
        assert (job_id in listed) == meant, listed

    tool_world.run(go())


def test_numbers_sent_as_text_are_read_as_numbers(tool_world: ToolWorld) -> None:
    async def go() -> None:
        args = {"message": "check", "mode": "isolated", "every": "2h", "timeout_seconds": "30"}
        reply = await tool_world.call("future_task_create", ALICE, args)
        match = re.search(r"\bid: (\w+)", reply)
        assert match, reply
        job = await tool_world.world.job(match[1])
        assert job is not None and job.payload.timeout_seconds == 30
        for _ in range(2):
            assert "Started a run" in await tool_world.call(
                "future_task_run", ALICE, {"job_id": job.id}
            )
        history = await tool_world.call(
            "future_task_history", ALICE, {"job_id": job.id, "limit": " 1 "}
        )
        assert history.startswith(f"1 of 2 runs of {job.id}"), history
        assert "id: " in await tool_world.call(
            "future_task_create", ALICE, {"message": 42, "run_at": "20m", "name": 7}
        )

    tool_world.run(go())


@pytest.mark.parametrize("tz", ["UTC", "Asia/Shanghai"])
def test_a_time_before_year_one_is_refused(tool_world: ToolWorld, tz: str) -> None:
    async def go() -> None:
        args = {"message": "x", "run_at": "0001-01-01T00:00+14:00", "tz": tz}
        assert_a_clear_refusal(await tool_world.call("future_task_create", ALICE, args))

    tool_world.run(go())


def test_a_scheduled_run_can_not_use_the_tools(tool_world: ToolWorld) -> None:
    async def go() -> None:
        token = executor.CURRENT_RUN.set("r1")
        try:
            for name in TOOL_NAMES:
                reply = await tool_world.call(name, ALICE, {"job_id": 5, "bogus": [1]})
                assert_a_clear_refusal(reply)
                assert "scheduled run" in reply
        finally:
            executor.CURRENT_RUN.reset(token)

    tool_world.run(go())


def test_the_event_stand_in_is_read_as_the_actor_it_was_made_for() -> None:
    for actor in (ALICE, BOB, ADMIN, Actor("qq:GroupMessage:77", "5", "eve")):
        assert commands.actor_from_event(event_for(actor)) == actor
