"""``/cron``: the chat commands of SPEC §8.2, carried out through the shared service.

Replies are short and plain. Errors say what was wrong and show the right form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import cron_command, present
from ..core.chat_safe import chat_safe, job_seen_by, runs_seen_by
from ..core.errors import UserError
from ..core.models import Mode, ScheduleKind
from ..core.schedule import format_local
from ..core.service import Actor, describe_next_run
from . import core_import

if TYPE_CHECKING:
    from astrbot.api.event import AstrMessageEvent

    from .runtime import Runtime

IMPORT_CORE = "import-core"
IMPORT_CORE_USAGE = (
    "/cron import-core [confirm]  admins: list AstrBot's own future tasks, then move them here"
)

_MODE_NAMES = {
    Mode.REMINDER: "reminder",
    Mode.MAIN: "main-session event",
    Mode.ISOLATED: "agent task",
}


def actor_from_event(event: AstrMessageEvent) -> Actor:
    """Who sent ``event``, in which chat, and whether AstrBot counts them as an admin."""
    return Actor(
        origin=event.unified_msg_origin,
        sender_id=str(event.get_sender_id()),
        sender_name=str(event.get_sender_name() or ""),
        is_admin=bool(event.is_admin()),
    )


class CronCommands:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def service(self):
        return self.runtime.service

    async def handle(self, actor: Actor, arguments: str) -> str:
        verb, _, rest = arguments.strip().partition(" ")
        if verb.lower() == IMPORT_CORE:
            return await self._import_core(actor, rest.strip().lower())
        try:
            command = cron_command.parse(arguments)
            return await getattr(self, f"_{command.verb}")(actor, command)
        except UserError as exc:
            return f"Error: {exc}"

    async def _help(self, actor: Actor, command: cron_command.CronCommand) -> str:
        return f"{cron_command.USAGE}\n{IMPORT_CORE_USAGE}"

    async def _add(self, actor: Actor, command: cron_command.CronCommand) -> str:
        job = await self.service.create(actor, cron_command.job_spec(command))
        return await self.runtime.creation_reply(job)

    async def _list(self, actor: Actor, command: cron_command.CronCommand) -> str:
        page = await self.service.list(actor, all_jobs=command.all, limit=100)
        if not page.jobs:
            return "No tasks yet. Create one with: /cron add 20m stretch"
        lines = [present.job_line(job) for job in page.jobs]
        if page.total > len(page.jobs):
            lines.append(f"({len(page.jobs)} of {page.total} shown)")
        return "\n".join(lines)

    async def _show(self, actor: Actor, command: cron_command.CronCommand) -> str:
        job = await self.service.get(actor, command.job_id or "")
        return present.job_details(job_seen_by(job, actor.is_admin))

    async def _rm(self, actor: Actor, command: cron_command.CronCommand) -> str:
        job = await self.service.cancel(actor, command.job_id or "")
        return f"Deleted {job.id} ({job.display_name})."

    async def _pause(self, actor: Actor, command: cron_command.CronCommand) -> str:
        job = await self.service.set_enabled(actor, command.job_id or "", False)
        return f"Paused {job.id}. Resume with /cron resume {job.id}"

    async def _resume(self, actor: Actor, command: cron_command.CronCommand) -> str:
        job = await self.service.set_enabled(actor, command.job_id or "", True)
        return f"Resumed {job.id}; {describe_next_run(job)}"

    async def _run(self, actor: Actor, command: cron_command.CronCommand) -> str:
        job_id = command.job_id or ""
        await self.service.run_now(actor, job_id)
        return f"Started a run of {job_id} now (the schedule stays). See /cron runs {job_id}"

    async def _runs(self, actor: Actor, command: cron_command.CronCommand) -> str:
        job = await self.service.get(actor, command.job_id or "")
        runs, total = await self.service.history(actor, job.id, limit=command.count or 10)
        if not runs:
            return f"{job.id} has not run yet; {describe_next_run(job)}"
        runs = runs_seen_by(runs, actor.is_admin)  # full errors stay in the history
        lines = [f"Runs of {job.id}, newest first ({len(runs)} of {total}):"]
        lines += [present.run_line(run, job.schedule.tz) for run in runs]
        return "\n".join(lines)

    async def _edit(self, actor: Actor, command: cron_command.CronCommand) -> str:
        changes = cron_command.job_changes(command)
        job = await self.service.edit(actor, command.job_id or "", changes)
        lines = [f"Updated {job.id}; {describe_next_run(job)}"]
        return "\n".join(lines + present.interpreted_time(job, job.updated_at))

    async def _status(self, actor: Actor, command: cron_command.CronCommand) -> str:
        if not actor.is_admin:
            return await self._own_status(actor)
        status = await self.service.status()
        jobs = status["jobs"]
        state = "on" if status["enabled"] else f"off ({status['off_reason']})"
        wake = status["next_wake_at"]
        tz = self.service.settings.timezone
        return "\n".join(
            [
                f"scheduler: {state}",
                f"tasks: {jobs['total']} ({jobs['enabled']} enabled, {jobs['running']} running)",
                f"next wake: {format_local(wake, tz) if wake else 'nothing scheduled'}",
                f"last error: {status['last_error'] or 'none'}",
                *(f"set aside: {a['id']}: {a['reason']}" for a in status["set_aside"]),
                f"database: {status['database_path']}",
            ]
        )

    async def _own_status(self, actor: Actor) -> str:
        """A member's status: the scheduler's state and their own tasks, nothing of others
        or of the server (database path, global counts and engine errors are for admins)."""
        engine = self.runtime.engine
        state = "on" if engine.started else "off"
        page = await self.service.list(actor, limit=1)
        active = await self.service.list(actor, enabled=True, limit=1)
        nxt = active.jobs[0] if active.jobs else None  # listed soonest first
        aside = await self.service.store.set_aside_jobs(owner_key_is=actor.key)
        return "\n".join(
            [
                f"scheduler: {state}",
                f"your tasks here: {page.total} ({active.total} enabled)",
                f"your next run: {present.state_words(nxt) if nxt else 'nothing scheduled'}",
                *(f"set aside: {a['id']}: {chat_safe(a['reason'])}" for a in aside),
            ]
        )

    async def _wake(self, actor: Actor, command: cron_command.CronCommand) -> str:
        return await self.runtime.wake(actor, command.text or "", command.next_heartbeat)

    async def _import_core(self, actor: Actor, rest: str) -> str:
        """``/cron import-core`` lists AstrBot's own future tasks; ``... confirm`` moves them."""
        if not actor.is_admin:
            return "Error: only admins may import AstrBot's future tasks; ask an admin."
        if rest not in ("", "confirm"):
            return "Error: use /cron import-core to see the list, then /cron import-core confirm"
        context = self.runtime.context
        tasks = await core_import.core_tasks(context)
        if rest != "confirm" or not tasks:
            return core_import.listing_text(tasks)
        moved = await core_import.move_tasks(context, self.service, tasks)
        return core_import.moved_text(moved)


def creation_text(job, notes: list[str]) -> str:
    """The reply to a create: the id (as ``id: <id>``), the mode and the next run."""
    kind = "one-shot" if job.schedule.kind == ScheduleKind.AT else present.schedule_words(job)
    lines = [
        f"Created {_MODE_NAMES[job.payload.mode]} ({kind}), id: {job.id}",
        describe_next_run(job),
        *present.interpreted_time(job, job.created_at),
    ]
    return "\n".join(lines + notes)
