"""The use-cases every front door shares (commands, LLM tools, web API).

Validation, permissions and limits live here once, so a request is judged the same way
whichever door it came through. Every refusal is a UserError whose message says why and
what to do instead.
"""

from __future__ import annotations

import functools
import re
import secrets
import sqlite3
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import Any

from . import request_fields
from .cadence import gap_below
from .chat_safe import chat_safe
from .engine import Engine
from .errors import Conflict, NotFound, PermissionDenied, StoreError, UserError, store_unavailable
from .models import CatchUp, Job, Mode, Owner, Payload, Run, Schedule, ScheduleKind, Target
from .policy import Created, Edited, transition
from .ratelimit import HOUR_MS, Limit, SlidingWindows
from .schedule import MS, ScheduleError, fires_between, format_local, next_run_after, zone
from .settings import Settings
from .store import JobPage, JobWrite, Store, owner_key
from .timeparse import WHEN_FORMS, parse_cron, parse_every, parse_when

_ID_ALPHABET = string.ascii_lowercase + string.digits
_NO_HORIZON_MS = 2**62  # a preview counts runs, however far off they are
MAX_NAME_CHARS = 80
MAX_LIST_LIMIT = 200
EDIT_ATTEMPTS = 5
"""An edit that meets a job changing under it (a run finishing) reads it again and
re-applies itself this many times before it answers "changed meanwhile"."""


def _answers_store_trouble[**P, R](method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A database that is locked, full or read-only right now becomes a UserError that
    says so, through every front door alike, instead of a traceback (nothing changed)."""

    @functools.wraps(method)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise store_unavailable(exc) from exc

    return guarded


_JOB_ID_SHAPE = re.compile(r"[a-z0-9]{1,32}")


def new_job_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


@dataclass(slots=True)
class Actor:
    """Who is asking: the chat they are in, who they are, and whether they are an admin."""

    origin: str
    sender_id: str
    sender_name: str = ""
    is_admin: bool = False

    @property
    def key(self) -> str:
        return owner_key(self.origin, self.sender_id)

    @property
    def in_group(self) -> bool:
        parts = self.origin.split(":", 2)
        return len(parts) == 3 and parts[1] == "GroupMessage"


@dataclass(slots=True)
class JobSpec:
    """The fields of a create request. Exactly one of when / run_at / every / cron."""

    message: str = ""
    mode: str = Mode.REMINDER.value
    when: str | None = None
    run_at: str | None = None
    every: str | None = None
    cron: str | None = None
    tz: str | None = None
    name: str | None = None
    deliver: bool | None = None
    channel: str | None = None
    to: str | None = None
    best_effort: bool | None = None
    delete_after_run: bool | None = None
    catch_up: str | None = None
    provider_id: str | None = None
    persona_id: str | None = None
    timeout_seconds: int | None = None
    wake_mode: str | None = None
    media: list[str] = field(default_factory=list)
    post_prefix: str | None = None  # isolated: the label of its note in the main chat

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> JobSpec:
        """A spec from loose input (tool arguments, JSON bodies); unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        aliases = request_fields.aliases()
        spec = cls()
        for key, value in values.items():
            name = aliases.get(key, key)
            if name not in known:
                raise UserError(
                    f"unknown field {str(key)[:40]!r}; known fields: {', '.join(sorted(known))}"
                )
            setattr(spec, name, value)
        return spec


@dataclass(slots=True)
class JobChanges(JobSpec):
    """An edit: only the fields that are set change. ``enabled`` pauses or resumes."""

    message: str | None = None  # type: ignore[assignment]
    mode: str | None = None  # type: ignore[assignment]
    enabled: bool | None = None


# A target resolver turns (channel, to, actor) into a session id, or raises UserError.
TargetResolver = Callable[[str | None, str | None, "Actor"], str]
# A media check judges a job's media for its owner (origin, sender id); UserError if refused.
MediaCheck = Callable[[str, str, list[str]], None]


def default_resolve_target(channel: str | None, to: str | None, actor: Actor) -> str:
    """Without a host: a full ``platform:Type:id`` session, or the actor's own session."""
    if not channel and not to:
        return actor.origin
    candidate = to if to and to.count(":") >= 2 else f"{channel or ''}:{to or ''}"
    if candidate.count(":") < 2:
        raise UserError("give the target as a full session id, e.g. telegram:GroupMessage:-100123")
    return candidate


class TaskService:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        settings: Settings,
        *,
        resolve_target: TargetResolver = default_resolve_target,
        id_factory: Callable[[], str] = new_job_id,
        modes: frozenset[Mode] = frozenset(Mode),
        check_media: MediaCheck | None = None,
        provider_ids: Callable[[], list[str]] | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.resolve_target = resolve_target
        self.id_factory = id_factory
        self.modes = modes
        self.check_media = check_media
        self.provider_ids = provider_ids  # the host's loaded chat providers; None: unchecked
        self.creations = SlidingWindows()

    @property
    def now(self) -> int:
        return self.engine.clock.now_ms()

    # ----- create ------------------------------------------------------------------------

    @_answers_store_trouble
    async def create(self, actor: Actor, spec: JobSpec) -> Job:
        if not self.settings.allow_members and not actor.is_admin:
            raise PermissionDenied(
                "only admins may create scheduled tasks here (allow_members is off); "
                "ask an admin to create it for you"
            )
        now = self.now
        self._check_member_knobs(actor, spec, spec.mode or Mode.REMINDER.value)
        tz = self._zone(spec.tz)
        schedule = self._schedule(spec, tz, now)
        payload = Payload(
            mode=self._mode(spec.mode or Mode.REMINDER.value),
            message=self._message(spec.message),
            media=self._media(spec.media),
            provider_id=spec.provider_id or None,
            persona_id=spec.persona_id or None,
            timeout_seconds=self._timeout(spec.timeout_seconds),
            wake_mode=self._wake_mode(spec.wake_mode),
            post_prefix=_post_prefix(spec.post_prefix),
        )
        target = self._target(spec, actor)
        job = Job(
            id=self.id_factory(),
            name=self._name(spec.name),
            owner=Owner(
                origin=actor.origin, sender_id=actor.sender_id, sender_name=actor.sender_name
            ),
            schedule=schedule,
            payload=payload,
            target=target,
            catch_up=self._catch_up(spec.catch_up, actor),
            delete_after_run=(
                spec.delete_after_run
                if spec.delete_after_run is not None
                else schedule.kind == ScheduleKind.AT
            ),
            created_at=now,
            updated_at=now,
        )
        job = transition(job, Created(), now, self.settings).job
        _ensure_storable(job)
        self._check_job_media(job)
        self._take_creation(actor, now)
        await self._insert_within_quota(actor, job)
        self.engine.nudge()
        return job

    async def _insert_within_quota(self, actor: Actor, job: Job) -> None:
        """Count the owner's jobs and insert in one transaction, so a burst of creates can
        not pass ``max_jobs_per_user``; an id that is taken draws another."""
        for _ in range(5):
            async with self.store.transaction() as db:
                owned = await self.store.count_jobs(owner_key_is=actor.key, db=db)
                if not actor.is_admin and owned >= self.settings.max_jobs_per_user:
                    raise PermissionDenied(
                        f"you already have {owned} tasks, the limit is "
                        f"{self.settings.max_jobs_per_user}; delete one you no longer need "
                        "(/cron list, then /cron rm <id>)"
                    )
                if not await self.store.write_jobs(db, [JobWrite(job.id, 0, job=job)]):
                    job.version = 1  # as stored
                    return
            job.id = self.id_factory()
        raise UserError("could not find a free task id; try again")

    def _schedule(self, spec: JobSpec, tz: str, now: int) -> Schedule:
        given = [v for v in (spec.when, spec.run_at, spec.every, spec.cron) if v not in (None, "")]
        if len(given) != 1:
            raise UserError(
                "give exactly one of run_at (e.g. 20m or 2026-01-12T18:00), every (e.g. 2h) "
                f'or cron (e.g. "0 7 * * mon-fri"); forms: {WHEN_FORMS}'
            )
        if spec.when:
            schedule = parse_when(str(spec.when), tz, now)
        elif spec.run_at:
            schedule = parse_when(str(spec.run_at), tz, now)
            if schedule.kind != ScheduleKind.AT:
                raise UserError(
                    "run_at is a one-time moment (20m, 08:00 or ISO); use every or cron"
                )
        elif spec.every:
            schedule = parse_every(str(spec.every).removeprefix("every ").strip(), tz, now)
        else:
            schedule = parse_cron(str(spec.cron), tz, now_ms=now)
        self._check_interval(schedule, now)
        return schedule

    def _check_interval(self, schedule: Schedule, now: int) -> None:
        minimum = self.settings.min_interval_seconds * MS
        try:
            first = next_run_after(schedule, now - 1)
            gap = gap_below(schedule, minimum, now)
        except ScheduleError as exc:
            raise UserError(str(exc)) from None
        if first is None and schedule.kind != ScheduleKind.AT:
            raise UserError("that schedule never fires; check the expression")
        if gap is not None:
            raise UserError(
                f"that repeats every {gap // MS} s, more often than the minimum of "
                f"{self.settings.min_interval_seconds} s; choose a longer interval"
            )

    def preview(self, spec: JobSpec, count: int = 3) -> tuple[Schedule, list[int]]:
        """The schedule a create with ``spec`` would get and its next ``count`` runs (UTC
        ms); nothing is created. Bad input is the UserError a create would raise."""
        now = self.now
        schedule = self._schedule(spec, self._zone(spec.tz), now)
        if schedule.kind == ScheduleKind.AT:
            return schedule, [schedule.at_ms] if schedule.at_ms is not None else []
        return schedule, fires_between(schedule, now, _NO_HORIZON_MS, count)

    # ----- read --------------------------------------------------------------------------

    @_answers_store_trouble
    async def get(self, actor: Actor, job_id: str) -> Job:
        wanted = str(job_id).strip().lower()
        # Only an id of the shape the service hands out reaches the database (text that
        # SQLite can not even encode, such as a lone surrogate, is simply not found).
        try:
            job = await self.store.get_job(wanted) if _JOB_ID_SHAPE.fullmatch(wanted) else None
        except StoreError as exc:  # a row that no longer loads: set aside, see the status
            raise UserError(f"{exc}; it is set aside (see /cron status)") from None
        if job is None or not self.may_touch(actor, job):
            raise NotFound(
                f"no task with id {str(job_id)[:20]!r} that you can see; /cron list shows yours"
            )
        return job

    @staticmethod
    def may_touch(actor: Actor, job: Job) -> bool:
        return actor.is_admin or owner_key(job.owner.origin, job.owner.sender_id) == actor.key

    @_answers_store_trouble
    async def list(
        self,
        actor: Actor,
        *,
        include_disabled: bool = True,
        all_jobs: bool = False,
        query: str | None = None,
        owner: str | None = None,
        enabled: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> JobPage:
        if all_jobs and not actor.is_admin:
            raise PermissionDenied("only admins can list every task; /cron list shows yours")
        mine = not (all_jobs and actor.is_admin)
        if enabled is None and not include_disabled:
            enabled = True
        return await self.store.list_jobs(
            owner_key_is=actor.key if mine else owner,
            origin=actor.origin if mine and actor.in_group else None,
            enabled=enabled,
            query=query,
            limit=max(1, min(int(limit), MAX_LIST_LIMIT)),
            offset=max(0, int(offset)),
        )

    @_answers_store_trouble
    async def history(
        self,
        actor: Actor,
        job_id: str,
        *,
        limit: int = 10,
        offset: int = 0,
        status: str | None = None,
    ) -> tuple[list[Run], int]:
        job = await self.get(actor, job_id)
        return await self.store.runs_for(
            job.id,
            limit=max(1, min(int(limit), MAX_LIST_LIMIT)),
            offset=max(0, int(offset)),
            status=status,
        )

    # ----- change ------------------------------------------------------------------------

    @_answers_store_trouble
    async def edit(self, actor: Actor, job_id: str, changes: JobChanges) -> Job:
        """Apply ``changes`` to the job as stored. The write checks that the job did not
        change since it was read; if it did (a run finished meanwhile), the edit reads it
        again and re-applies itself, so it never writes back a state that is gone."""
        for _ in range(EDIT_ATTEMPTS):
            job = await self.get(actor, job_id)
            now = self.now
            rescheduled = self._apply_changes(job, changes, actor, now)
            enabled = None if changes.enabled is None else bool(changes.enabled)
            job = self._edited(job, Edited(rescheduled, enabled), now)
            _ensure_storable(job)
            if changes.media:
                self._check_job_media(job)
            if await self.store.write_job(JobWrite(job.id, job.version, job=job)):
                job.version += 1  # as stored
                self.engine.nudge()
                return job
        raise Conflict(f"task {job_id} changed meanwhile (it is running often); try again")

    def _edited(self, job: Job, event: Edited, now: int) -> Job:
        """The job after the edit; a stored schedule the rules trip on (a task set aside)
        is refused with what to do, not raised."""
        try:
            return transition(job, event, now, self.settings).job
        except UserError:
            raise
        except Exception as exc:
            raise UserError(
                f"task {job.id} can not be scheduled as it is stored ({type(exc).__name__}: "
                f"{exc}); give it a new schedule, e.g. /cron edit {job.id} 08:00"
            ) from None

    def _apply_changes(self, job: Job, changes: JobChanges, actor: Actor, now: int) -> bool:
        """Set the edited fields on ``job``; whether its schedule (or zone) changed."""
        self._check_member_knobs(actor, changes, changes.mode or job.payload.mode.value)
        rescheduled = False
        tz = self._zone(changes.tz) if changes.tz else job.schedule.tz
        if any(
            v not in (None, "") for v in (changes.when, changes.run_at, changes.every, changes.cron)
        ):
            job.schedule = self._schedule(changes, tz, now)
            rescheduled = True
        elif changes.tz and tz != job.schedule.tz:
            job.schedule = job.schedule.model_copy(update={"tz": tz})
            rescheduled = job.schedule.kind == ScheduleKind.CRON
        if changes.message is not None:
            job.payload.message = self._message(changes.message)
        if changes.mode is not None:
            job.payload.mode = self._mode(changes.mode)
        if changes.name is not None:
            job.name = self._name(changes.name)
        if changes.media:
            job.payload.media = self._media(changes.media)
        for attr in ("provider_id", "persona_id"):
            value = getattr(changes, attr)
            if value is not None:
                setattr(job.payload, attr, value or None)
        if changes.timeout_seconds is not None:
            job.payload.timeout_seconds = self._timeout(changes.timeout_seconds)
        if changes.wake_mode is not None:
            job.payload.wake_mode = self._wake_mode(changes.wake_mode)
        if changes.post_prefix is not None:
            job.payload.post_prefix = _post_prefix(changes.post_prefix)
        if changes.catch_up is not None:
            job.catch_up = self._catch_up(changes.catch_up, actor)
        if changes.delete_after_run is not None:
            job.delete_after_run = bool(changes.delete_after_run)
        if any(
            getattr(changes, a) is not None for a in ("deliver", "channel", "to", "best_effort")
        ):
            job.target = self._target(changes, actor, base=job.target)
        return rescheduled

    async def set_enabled(self, actor: Actor, job_id: str, enabled: bool) -> Job:
        return await self.edit(actor, job_id, JobChanges(enabled=enabled))

    @_answers_store_trouble
    async def cancel(self, actor: Actor, job_id: str) -> Job:
        job = await self.get(actor, job_id)
        await self.store.delete_job(job.id)
        self.engine.nudge()
        return job

    @_answers_store_trouble
    async def run_now(self, actor: Actor, job_id: str) -> str:
        job = await self.get(actor, job_id)
        if not self.engine.started:
            off = chat_safe(self.engine.off_reason) or "not started"  # no paths in chat
            raise Conflict(f"the scheduler is off ({off}); nothing can run")
        run_id = await self.engine.run_now(job.id)
        if run_id is None:
            raise Conflict(f"task {job.id} is running right now; see /cron runs {job.id}")
        return run_id

    @_answers_store_trouble
    async def status(self) -> dict[str, Any]:
        counts = await self.store.counts()
        return {
            "enabled": self.engine.started,
            "off_reason": self.engine.off_reason,
            "jobs": counts,
            "next_wake_at": await self.store.next_due_at() if self.engine.started else None,
            "last_error": self.engine.last_error,
            "set_aside": await self.store.set_aside_jobs(),
            "database_path": str(self.store.path),
        }

    # ----- validation --------------------------------------------------------------------

    def _zone(self, tz: str | None) -> str:
        name = (tz or "").strip() or self.settings.timezone
        zone(name)
        return name

    def _message(self, message: str | None) -> str:
        text = _clean_text(str(message or ""), keep_newlines=True).strip()
        if not text:
            raise UserError("the message is empty; say what the task should send or do")
        if len(text) > self.settings.max_message_chars:
            raise UserError(
                f"the message has {len(text)} characters, the limit is "
                f"{self.settings.max_message_chars}; shorten it"
            )
        return text

    @staticmethod
    def _name(name: str | None) -> str:
        text = _clean_text(str(name or ""), keep_newlines=False).strip()
        if len(text) > MAX_NAME_CHARS:
            raise UserError(f"the name is longer than {MAX_NAME_CHARS} characters; shorten it")
        return text

    def _mode(self, mode: str) -> Mode:
        names = ", ".join(m.value for m in Mode if m in self.modes)
        try:
            chosen = Mode(str(mode).strip().lower())
        except ValueError:
            raise UserError(f"unknown mode {str(mode)[:20]!r}; use {names}") from None
        if chosen not in self.modes:
            raise UserError(f"mode {chosen.value} is not available here; use {names}")
        return chosen

    def _catch_up(self, value: str | None, actor: Actor) -> CatchUp:
        asked = value not in (None, "")
        if not asked:
            value = self.settings.catch_up_default or CatchUp.ONCE.value
        try:
            chosen = CatchUp(str(value).strip().lower())
        except ValueError:
            raise UserError(
                f"unknown catch_up {str(value)[:20]!r}; use once, skip or all"
            ) from None
        if chosen == CatchUp.ALL and not actor.is_admin:
            if not asked:  # a configured default of ``all`` holds for admins' tasks only
                return CatchUp.ONCE
            raise PermissionDenied(
                "catch_up: all is for admins (it can replay many missed runs at once); "
                "use once (the default) or skip"
            )
        return chosen

    # ----- members' limits (SPEC §7) -----------------------------------------------------

    def _check_member_knobs(self, actor: Actor, spec: JobSpec, mode: str) -> None:
        """Model choice and long timeouts are admin knobs; a named model must exist."""
        if spec.provider_id:
            if not actor.is_admin:
                raise PermissionDenied(
                    "choosing the model (provider) is for admins; leave it out to use the "
                    "chat's current model"
                )
            self._check_provider(str(spec.provider_id))
        if spec.timeout_seconds in (None, "", 0) or actor.is_admin:
            return
        default = (
            self.settings.reminder_timeout_seconds
            if str(mode).strip().lower() == Mode.REMINDER.value
            else self.settings.agent_timeout_seconds
        )
        if (self._timeout(spec.timeout_seconds) or 0) > default:
            raise PermissionDenied(
                f"a timeout above the default of {default} s is for admins; "
                f"give at most {default} or leave it out"
            )

    def _check_provider(self, provider_id: str) -> None:
        if self.provider_ids is None:
            return
        known = self.provider_ids()
        if provider_id.strip() not in known:
            choices = ", ".join(known[:10]) or "none is configured"
            raise UserError(
                f"model {provider_id[:60]!r} is not a chat provider loaded in AstrBot; "
                f"use one of: {choices} (or leave it out for the chat's current model)"
            )

    def _take_creation(self, actor: Actor, now: int) -> None:
        """Members create at most ``create_limit_per_owner_per_hour`` tasks an hour, so
        one-shots that delete themselves after running can not bypass the task quota."""
        if actor.is_admin:
            return
        count = self.settings.create_limit_per_owner_per_hour
        limit = Limit(count, HOUR_MS, f"{count} new tasks per hour")
        if self.creations.take([(actor.key, limit)], now) is not None:
            raise PermissionDenied(
                f"you created {count} tasks in the last hour, the most allowed; "
                "try again later or change an existing task with /cron edit"
            )

    def _check_job_media(self, job: Job) -> None:
        if self.check_media is not None and job.payload.media:
            self.check_media(job.owner.origin, job.owner.sender_id, job.payload.media)

    @staticmethod
    def _wake_mode(value: str | None) -> str:
        mode = (value or "now").strip().lower()
        if mode not in ("now", "next-heartbeat"):
            raise UserError("wake_mode is now or next-heartbeat")
        return mode

    @staticmethod
    def _timeout(value: Any) -> int | None:
        if value in (None, "", 0):
            return None
        try:
            seconds = int(value)
        except (TypeError, ValueError):
            raise UserError("timeout_seconds is a whole number of seconds") from None
        if not 1 <= seconds <= 24 * 3600:
            raise UserError("timeout_seconds must be between 1 and 86400")
        return seconds

    @staticmethod
    def _media(media: Any) -> list[str]:
        if not media:
            return []
        items = [media] if isinstance(media, str) else list(media)
        if len(items) > 10 or any(not isinstance(i, str) or not i.strip() for i in items):
            raise UserError("media is a list of up to 10 file paths or URLs")
        return [i.strip() for i in items]

    def _target(self, spec: JobSpec, actor: Actor, base: Target | None = None) -> Target:
        current = base or Target()
        target = Target(
            deliver=spec.deliver if spec.deliver is not None else current.deliver,
            channel=(spec.channel if spec.channel is not None else current.channel) or None,
            to=(spec.to if spec.to is not None else current.to) or None,
            best_effort=spec.best_effort if spec.best_effort is not None else current.best_effort,
        )
        target.session = None
        if target.channel or target.to:
            session = self.resolve_target(target.channel, target.to, actor)
            target.session = session
            if session != actor.origin and not actor.is_admin:
                raise PermissionDenied(
                    "only admins may deliver to another chat; leave channel and to empty to "
                    "deliver here"
                )
        return target


def _ensure_storable(job: Job) -> None:
    """Refuse what cannot be written, e.g. a lone UTF-16 surrogate (``"\\ud800"``), which JSON
    from a web body or a tool call may carry in any text field."""
    try:
        job.model_dump_json()
    except ValueError:
        raise UserError(
            "the task contains text that is not valid Unicode (a lone surrogate); remove it"
        ) from None


def _clean_text(text: str, *, keep_newlines: bool) -> str:
    """Drop control characters (they break chat clients and logs); keep tabs and newlines."""
    if not keep_newlines:
        text = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    cleaned = "".join(ch for ch in text if ch >= " " or ch in "\n\t")
    return cleaned if keep_newlines else " ".join(cleaned.split())


def describe_next_run(job: Job) -> str:
    """``next run: 2026-01-12 18:00:00 CST (Asia/Shanghai)``: in every create/edit reply."""
    if not job.enabled:
        return "paused"
    return f"next run: {format_local(job.next_run_at, job.schedule.tz)}"


POST_PREFIX_CHARS = 40


def _post_prefix(value: str | None) -> str | None:
    """A task's own post-to-main prefix; empty: the plugin's setting."""
    text = (value or "").strip()
    if len(text) > POST_PREFIX_CHARS:
        raise UserError(f"post_prefix is at most {POST_PREFIX_CHARS} characters")
    return text or None
