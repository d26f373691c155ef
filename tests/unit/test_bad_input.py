"""Property tests: bad input never crashes and never stores a job that cannot be loaded.

Every door (``parse_when``, the ``/cron`` parser, the web body checks, the service) must
either give back a value or raise a UserError; any other exception is a bug. A job the
service accepts must load back from the store equal to what it returned.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core import cron_command, views
from core.cron_command import CronCommand
from core.errors import NotFound, UserError
from core.models import Job, Schedule, ScheduleKind
from core.service import Actor, JobChanges, JobSpec
from core.timeparse import MAX_AHEAD_MS, PAST_TOLERANCE_MS, parse_when

from .conftest import ADMIN, ALICE, BOB, World, at, make_world

NOW = at("2026-01-05 09:00")
FAST = settings(max_examples=150, deadline=None)
WORLD = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ----- strategies --------------------------------------------------------------------------

# Any code point, control characters and lone surrogates included (JSON can carry both).
ANY_CHAR = st.characters(codec=None, exclude_categories=())
junk = st.text(ANY_CHAR, max_size=60)
huge = st.text(ANY_CHAR, min_size=2000, max_size=10_000) | st.builds(
    lambda c, n: c * n,
    st.sampled_from(["9", "a", " ", "*", "\x00", "𝟘", "\u202e"]),
    st.integers(1000, 10_000),
)
some_text = junk | huge | st.text(max_size=30)
# The same without lone surrogates (those are a known bug, tested on their own below).
NO_SURROGATE = st.characters(codec="utf-8", exclude_categories=())
sjunk = st.text(NO_SURROGATE, max_size=60)
stext = sjunk | st.text(NO_SURROGATE, min_size=2000, max_size=10_000) | st.text(max_size=30)

ZONES = st.sampled_from(
    [
        "UTC",
        "Asia/Shanghai",
        "Europe/Berlin",
        "America/Los_Angeles",
        "Pacific/Kiritimati",
        "America/St_Johns",
        "Australia/Lord_Howe",
    ]
)
BAD_ZONES = st.sampled_from(
    ["", " ", "Mars/Olympus", "../../etc/passwd", "UTC\x00", "utc", "+08:00", "Asia/", "/", "."]
)
# "now" anywhere between 1971 and 2100, plus DST-edge instants.
NOWS = st.integers(at("1971-01-01 00:00"), at("2100-01-01 00:00")) | st.sampled_from(
    [NOW, at("2026-03-29 01:30"), at("2026-10-25 00:59"), at("2026-03-08 10:00")]
)

units = st.sampled_from(["d", "h", "m", "min", "s", "D", "H", "M", "S", ""])
number = st.integers(0, 10**12).map(str) | st.sampled_from(["-1", "00", "0", "1.5", "１", "٣"])
duration = st.lists(st.tuples(number, units), min_size=1, max_size=4).map(
    lambda parts: "".join(n + u for n, u in parts)
)
clock_time = st.builds(
    lambda h, m, s: f"{h}:{m:02d}" + (f":{s:02d}" if s is not None else ""),
    st.integers(-1, 30),
    st.integers(0, 70),
    st.none() | st.integers(0, 70),
)
offset = st.sampled_from(["", "Z", "+08:00", "-05:00", "+14:00", "+23:59", "+24:00", "-1"])
iso = st.builds(
    lambda y, mo, d, h, mi, sep, off: f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}{off}",
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.sampled_from(["T", " ", "t", "  "]),
    offset,
) | st.sampled_from(
    [
        "0001-01-01T00:00",
        "9999-12-31T23:59:59+14:00",
        "0001-01-01T00:00-23:59",
        "9999-12-31T23:59:59.999999-23:59",
        "2026-02-29",
        "2026-01-05",
        "20260112T1800",
        "2026-W02-1",
        "2026-03-29T02:30",  # a wall time that does not exist in Europe/Berlin
        "2026-10-25T02:30",  # one that exists twice
    ]
)
cron_field = st.sampled_from(
    ["*", "*/0", "*/1", "0", "59", "60", "-1", "31", "32", "2", "13", "1-5", "5-1",
     "mon-fri", "sun", "L", "?", "#", "1#5", "99999999999999999999", "*/99999", ",", "a", "1,2,3"]
)  # fmt: skip
cron_like = st.lists(cron_field, min_size=4, max_size=7).map(" ".join) | st.sampled_from(
    ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4 *", "0 0 29 2 *", "0 0 31 2 mon", "* * * * *",
     "0 0 L 2 *", "0 0 1 1 * 2099", "@yearly", "@reboot", "0 0 0 0 0", "59 23 31 12 sun"]
)  # fmt: skip
every = st.builds(
    lambda pre, body: pre + body,
    st.sampled_from(["every ", "EVERY ", "every  ", "every"]),
    duration | junk | clock_time,
)
near_valid = st.builds(
    lambda pre, body, post: pre + body + post,
    st.sampled_from(["", "in ", "cron ", '"', "'", "`", " ", "IN "]),
    duration | clock_time | iso | cron_like | every,
    st.sampled_from(["", '"', " ", "\n", "\x00", " x"]),
)
whens = near_valid | some_text


def _check_schedule(schedule: Schedule, now: int) -> None:
    assert isinstance(schedule, Schedule)
    if schedule.kind == ScheduleKind.AT:
        assert schedule.at_ms is not None
        assert schedule.at_ms >= now - PAST_TOLERANCE_MS
        assert schedule.at_ms <= now + MAX_AHEAD_MS
    elif schedule.kind == ScheduleKind.EVERY:
        assert schedule.every_ms is not None and schedule.every_ms > 0
    else:
        assert schedule.expr and len(schedule.expr.split()) == 5


# ----- 1. parse_when -----------------------------------------------------------------------


@FAST
@given(text=whens, tz=ZONES, now=NOWS)
def test_parse_when_returns_a_sane_schedule_or_a_user_error(text: str, tz: str, now: int) -> None:
    try:
        schedule = parse_when(text, tz, now)
    except UserError:
        return
    _check_schedule(schedule, now)


@FAST
@given(text=near_valid, tz=BAD_ZONES, now=NOWS)
def test_parse_when_with_a_bad_zone_is_a_user_error(text: str, tz: str, now: int) -> None:
    with pytest.raises(UserError):
        parse_when(text, tz, now)


@pytest.mark.parametrize("expr", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4 *"])
def test_a_cron_date_that_never_comes_is_refused_by_the_service_not_crashing(
    sync_world: tuple[Any, World], expr: str
) -> None:
    with contextlib.suppress(UserError):
        parse_when(expr, "UTC", NOW)
    loop, w = sync_world
    for fields in ({"cron": expr}, {"when": expr}, {"when": f'"{expr}"'}):
        with pytest.raises(UserError):
            loop.run_until_complete(w.service.create(ALICE, JobSpec(message="x", **fields)))
    assert loop.run_until_complete(_all_rows_load(w)) == 0


# ----- 2. /cron parser ---------------------------------------------------------------------

verbs = st.sampled_from(
    ["add", "new", "create", "list", "ls", "show", "info", "get", "rm", "del", "delete",
     "remove", "cancel", "pause", "disable", "stop", "resume", "enable", "start", "run",
     "trigger", "runs", "history", "log", "edit", "update", "status", "wake", "help",
     "ADD", "Rm", "", "bogus", "--tz"]
)  # fmt: skip
ids = st.sampled_from(["abc123", "ABC123", "a" * 32, "a" * 33, "", "ab-c", "1", "é", "0"]) | junk
options = st.sampled_from(
    ["--agent", "--isolated", "--main", "--keep", "--next-heartbeat", "--reminder", "--tz",
     "--tz Asia/Shanghai", "--tz Mars/X", "--name", "--name daily", '--name "two words"',
     '--name "unclosed', "--text", "--text hi", "--text  ", "--bogus", "--", "--TZ UTC"]
)  # fmt: skip
quoted = st.builds(
    lambda q, body, close: q + body + close,
    st.sampled_from(['"', "'", "“", "「", "`"]),
    cron_like | duration | junk,
    st.sampled_from(['"', "'", "”", "」", ""]),
)
pieces = st.lists(
    ids | options | quoted | duration | clock_time | iso | cron_like | every | junk,
    max_size=8,
)
cron_lines = st.builds(
    lambda verb, parts, sep: sep.join([verb, *parts]),
    verbs,
    pieces,
    st.sampled_from([" ", "  ", "\t", " \n "]),
)


@FAST
@given(arguments=cron_lines | some_text)
def test_cron_parse_returns_a_command_or_a_user_error(arguments: str) -> None:
    try:
        command = cron_command.parse(arguments)
    except UserError:
        return
    assert isinstance(command, CronCommand)
    assert command.verb in set(cron_command._VERB_ALIASES.values())
    if command.job_id is not None:
        assert cron_command._ID.match(command.job_id)
    if command.verb == "add":
        assert command.when is not None and command.text


# ----- 3. the service ----------------------------------------------------------------------


@pytest.fixture
def sync_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, World]]:
    """One world (a real store, engine, service) per test function, driven by one loop,
    so it can be shared by every example of a sync ``@given`` test."""
    loop = asyncio.new_event_loop()
    path = tmp_path_factory.mktemp("bad-input") / "t.db"
    w = loop.run_until_complete(
        make_world(path, NOW, max_jobs_per_user=10**6, create_limit_per_owner_per_hour=0)
    )
    try:
        yield loop, w
    finally:
        loop.run_until_complete(w.engine.stop())
        loop.run_until_complete(w.store.close())
        loop.close()


opt = lambda s: st.none() | s  # noqa: E731
messages = st.sampled_from(["", " ", "\x00\x01", "\n\t", "tea", "x" * 8000, "x" * 8001]) | stext
swhens = near_valid | stext
SCHEDULE_FIELDS = ("when", "run_at", "every", "cron")
one_schedule = st.one_of(
    swhens.map(lambda v: {"when": v}),
    (duration | iso | clock_time | sjunk).map(lambda v: {"run_at": v}),
    (duration | every | sjunk).map(lambda v: {"every": v}),
    (cron_like | sjunk).map(lambda v: {"cron": v}),
    st.fixed_dictionaries({}, optional={f: opt(swhens) for f in SCHEDULE_FIELDS}),
)
other_fields = st.fixed_dictionaries(
    {
        "message": messages,
        "mode": st.sampled_from(["reminder", "isolated", "main", "REMINDER", " main ", "", "x"])
        | sjunk,
    },
    optional={
        "tz": opt(ZONES | BAD_ZONES | sjunk),
        "name": opt(stext),
        "deliver": opt(st.booleans()),
        "channel": opt(
            st.sampled_from(["", "qq", "qq:FriendMessage:1001", "x:GroupMessage:1"]) | sjunk
        ),
        "to": opt(
            st.sampled_from(["", "1001", "qq:FriendMessage:1001", "qq:GroupMessage:5"]) | sjunk
        ),
        "best_effort": opt(st.booleans()),
        "delete_after_run": opt(st.booleans()),
        "catch_up": opt(st.sampled_from(["once", "skip", "all", "ALL ", "never"]) | sjunk),
        "provider_id": opt(st.sampled_from(["", "openai"]) | sjunk),
        "persona_id": opt(st.sampled_from(["", "p"]) | sjunk),
        "timeout_seconds": opt(
            st.integers(-(10**12), 10**12) | st.sampled_from([0, 1, 86400, 86401])
        ),
        "wake_mode": opt(st.sampled_from(["now", "next-heartbeat", "NOW ", "later", ""]) | sjunk),
        "media": st.lists(
            st.sampled_from(["", " ", "a.png", "https://x/y.jpg"]) | sjunk, max_size=12
        ),
    },
)


def scrub(value: Any) -> Any:
    """``value`` with lone surrogates removed (they have their own test below), so these
    properties explore the other fields."""
    if isinstance(value, str):
        return "".join(ch for ch in value if not 0xD800 <= ord(ch) <= 0xDFFF)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    return value


wild_specs = st.builds(lambda a, b: JobSpec(**scrub({**a, **b})), one_schedule, other_fields)
# Mostly right, with one odd field: these get stored often enough to test the round trip.
good_schedule = st.one_of(
    st.sampled_from(["20m", "1h30m", "08:00", "2026-01-12T18:00", "2030-06-01 00:00+14:00"]).map(
        lambda v: {"when": v}
    ),
    st.sampled_from(["2h", "every 1d", "90s", "1m"]).map(lambda v: {"every": v}),
    st.sampled_from(["0 7 * * mon-fri", "*/5 * * * *", "0 0 29 2 *", "59 23 31 12 sun"]).map(
        lambda v: {"cron": v}
    ),
)
plausible_specs = st.builds(
    lambda sched, base, odd: JobSpec(**scrub({**sched, **base, **odd})),
    good_schedule,
    st.fixed_dictionaries({"message": stext.filter(str.strip) | st.just("tea")}),
    other_fields.flatmap(
        lambda d: st.sampled_from([k for k in d if k != "message"]).map(lambda k: {k: d[k]})
    )
    | st.just({}),
)
specs = wild_specs | plausible_specs
actors = st.sampled_from([ALICE, BOB, ADMIN])


def _fields(job: Job) -> dict[str, Any]:
    return job.model_dump(mode="json")


async def _all_rows_load(w: World) -> int:
    page = await w.store.list_jobs(limit=10**6)
    assert len(page.jobs) == page.total
    return page.total


@WORLD
@given(spec=specs, actor=actors)
def test_create_refuses_or_stores_a_job_that_loads_back_equal(
    sync_world: tuple[Any, World], spec: JobSpec, actor: Any
) -> None:
    loop, w = sync_world

    async def go() -> None:
        before = await _all_rows_load(w)
        try:
            job = await w.service.create(actor, spec)
        except UserError:
            event("refused")
            assert await _all_rows_load(w) == before
            return
        event(f"stored a {job.schedule.kind.value} job")
        loaded = await w.store.get_job(job.id)
        assert loaded is not None
        assert _fields(loaded) == _fields(job)
        assert "\x00" not in loaded.payload.message
        assert all(ch >= " " for ch in loaded.name)
        assert 0 < len(loaded.payload.message) <= w.settings.max_message_chars
        if loaded.schedule.kind == ScheduleKind.AT:
            assert loaded.next_run_at == loaded.schedule.at_ms
        assert await _all_rows_load(w) == before + 1

    loop.run_until_complete(go())


changes = st.builds(
    lambda **kw: JobChanges(**scrub(kw)),
    message=opt(messages),
    mode=opt(st.sampled_from(["reminder", "main", "bogus"])),
    when=opt(swhens),
    every=opt(duration | sjunk),
    tz=opt(ZONES | BAD_ZONES),
    name=opt(stext),
    enabled=opt(st.booleans()),
    timeout_seconds=opt(st.integers(-5, 10**6)),
    catch_up=opt(st.sampled_from(["once", "skip", "nope"])),
)


@WORLD
@given(edit=changes, verb=st.sampled_from(["get", "edit", "cancel", "pause", "resume", "run"]))
def test_another_users_job_id_is_not_found_and_nothing_changes(
    sync_world: tuple[Any, World], edit: JobChanges, verb: str
) -> None:
    loop, w = sync_world

    async def go() -> None:
        existing = await w.store.list_jobs(owner_key_is=ALICE.key, limit=1)
        if existing.jobs:
            job = existing.jobs[0]
        else:
            job = await w.create(ALICE, message="alice's secret", every="2h")
        before = _fields(await w.store.get_job(job.id))  # type: ignore[arg-type]
        for job_id in (job.id, job.id.upper(), f" {job.id} "):
            with pytest.raises(NotFound):
                if verb == "get":
                    await w.service.get(BOB, job_id)
                elif verb == "edit":
                    await w.service.edit(BOB, job_id, edit)
                elif verb == "cancel":
                    await w.service.cancel(BOB, job_id)
                elif verb == "pause":
                    await w.service.set_enabled(BOB, job_id, False)
                elif verb == "resume":
                    await w.service.set_enabled(BOB, job_id, True)
                else:
                    await w.service.run_now(BOB, job_id)
            with pytest.raises(NotFound):
                await w.service.history(BOB, job_id)
        after = await w.store.get_job(job.id)
        assert after is not None and _fields(after) == before
        assert w.executor.ran(job.id) == []

    loop.run_until_complete(go())


@WORLD
@given(edit=changes)
def test_an_edit_refuses_or_stores_a_job_that_loads_back_equal(
    sync_world: tuple[Any, World], edit: JobChanges
) -> None:
    loop, w = sync_world

    async def go() -> None:
        job = await w.create(ALICE, message="tea", every="2h")
        try:
            edited = await w.service.edit(ALICE, job.id, edit)
        except UserError:
            unchanged = await w.store.get_job(job.id)
            assert unchanged is not None and _fields(unchanged) == _fields(job)
            return
        loaded = await w.store.get_job(job.id)
        assert loaded is not None and _fields(loaded) == _fields(edited)
        await _all_rows_load(w)

    loop.run_until_complete(go())


# ----- 4. web bodies -----------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | junk
    | st.text(max_size=300)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
create_keys = st.sampled_from(sorted(views.CREATE_FIELDS))
edit_keys = st.sampled_from(sorted(views.EDIT_FIELDS))
plausible_value = (
    json_values
    | st.sampled_from(["qq:FriendMessage:1001", "qq:GroupMessage:1 ", "x:Other:1", "20m", "UTC"])
    | st.lists(junk, max_size=3)
)


def _body(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return json_values | st.dictionaries(keys | junk, plausible_value, max_size=8)


@FAST
@given(body=_body(create_keys))
def test_parse_create_returns_or_raises_a_user_error(body: Any) -> None:
    try:
        request = views.parse_create(body)
    except UserError:
        return
    assert isinstance(request.spec, JobSpec)
    assert views.check_session(request.session) == request.session


@FAST
@given(body=_body(edit_keys))
def test_parse_changes_returns_or_raises_a_user_error(body: Any) -> None:
    try:
        result = views.parse_changes(body)
    except UserError:
        return
    assert isinstance(result, JobChanges)


@FAST
@given(
    query=st.dictionaries(
        st.sampled_from(["q", "enabled", "owner", "limit", "offset"]) | junk,
        json_values,
        max_size=6,
    )
)
def test_parse_list_query_returns_or_raises_a_user_error(query: dict[str, Any]) -> None:
    try:
        parsed = views.parse_list_query(query)
    except UserError:
        return
    assert 1 <= parsed["limit"] <= views.MAX_LIST_LIMIT
    assert parsed["offset"] >= 0


@WORLD
@given(body=_body(create_keys))
def test_a_web_body_the_views_accept_is_refused_or_stored_loadably(
    sync_world: tuple[Any, World], body: Any
) -> None:
    """The whole web path: parse_create, then the service as the dashboard owner."""
    loop, w = sync_world
    try:
        request = views.parse_create(scrub(body))
    except UserError:
        return
    actor = Actor(request.session, request.owner_id, request.owner_name, is_admin=True)

    async def go() -> None:
        try:
            job = await w.service.create(actor, request.spec)
        except UserError:
            return
        loaded = await w.store.get_job(job.id)
        assert loaded is not None and _fields(loaded) == _fields(job)
        await _all_rows_load(w)

    loop.run_until_complete(go())


# ----- the bug these found -----------------------------------------------------------------

SURROGATE_SPECS = [
    {"message": "tea \ud800", "when": "20m"},
    {"message": "tea", "when": "20m", "name": "\udfff"},
    {"message": "tea", "when": "20m", "provider_id": "\ud83d"},
    {"message": "tea", "every": "2h", "persona_id": "\udc00"},
    {"message": "tea", "when": "20m", "media": ["a\ud800.png"]},
]


@pytest.mark.parametrize("fields", SURROGATE_SPECS, ids=lambda f: "-".join(sorted(f)))
def test_a_lone_surrogate_is_refused_with_a_user_error(
    sync_world: tuple[Any, World], fields: dict[str, Any]
) -> None:
    loop, w = sync_world

    async def go() -> None:
        body = {**fields, "session": "qq:FriendMessage:1001"}
        request = views.parse_create(body)  # the web door lets it through
        try:
            job = await w.service.create(ALICE, request.spec)
        except UserError:
            return
        except Exception as exc:
            assert await _all_rows_load(w) == 0  # at least nothing half-written
            raise AssertionError(f"{type(exc).__name__} instead of UserError: {exc}") from exc
        loaded = await w.store.get_job(job.id)
        assert loaded is not None and _fields(loaded) == _fields(job)

    loop.run_until_complete(go())
