"""Moving tasks from AstrBot's built-in future tasks into the plugin.

AstrBot keeps its own scheduled agent tasks (``active_agent`` rows of its
``CronJobManager``, made by its ``future_task`` tool or its WebUI). Each becomes an
``isolated`` task here with the same schedule (cron or one-shot, in the same zone), the
same chat and owner, and its note as the task's text. The core task is then disabled, not
deleted, so the move can be undone by enabling it again in AstrBot. A listing comes first;
nothing changes until the import is confirmed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..core.errors import UserError
from ..core.models import Mode
from ..core.service import Actor, JobSpec

if TYPE_CHECKING:
    from astrbot.api.star import Context

    from ..core.service import TaskService

CORE_AGENT_JOB = "active_agent"
MOVED_KEY = "moved_to_future_tasks"  # written into the core task's payload: the plugin's id


@dataclass(slots=True)
class CoreTask:
    """One of AstrBot's own future tasks and what it becomes here."""

    core_id: str
    name: str
    message: str
    schedule: str  # as the listing shows it: "cron 0 8 * * *" or "once 2026-05-01T08:00+08:00"
    tz: str | None
    session: str
    sender_id: str
    problem: str = ""  # why it can not be imported; empty when it can

    def spec(self) -> JobSpec:
        kind, _, when = self.schedule.partition(" ")
        return JobSpec(
            message=self.message,
            mode=Mode.ISOLATED.value,
            name=self.name,
            tz=self.tz,
            cron=when if kind == "cron" else None,
            run_at=when if kind == "once" else None,
        )

    def view(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Moved:
    """What became of one core task in an import."""

    core_id: str
    name: str
    job_id: str = ""
    error: str = ""


async def core_tasks(context: Context) -> list[CoreTask]:
    """AstrBot's enabled future tasks, oldest first (disabled ones, including those moved
    already, are left alone)."""
    manager = getattr(context, "cron_manager", None)
    if manager is None:
        return []
    jobs = await manager.list_jobs(CORE_AGENT_JOB)
    return [_convert(job) for job in jobs if job.enabled]


def proactive_tools_on(context: Context) -> bool:
    """Whether AstrBot offers its own ``future_task`` tool to its agent."""
    settings = context.get_config().get("provider_settings") or {}
    return bool((settings.get("proactive_capability") or {}).get("add_cron_tools", True))


async def move_tasks(context: Context, service: TaskService, tasks: list[CoreTask]) -> list[Moved]:
    """Create each importable task in the plugin, then disable it in AstrBot. A task whose
    core copy can not be disabled is taken back out of the plugin, so no task runs twice."""
    moved = []
    for task in tasks:
        if task.problem:
            moved.append(Moved(task.core_id, task.name, error=task.problem))
            continue
        actor = Actor(origin=task.session, sender_id=task.sender_id, is_admin=True)
        try:
            job = await service.create(actor, task.spec())
        except UserError as exc:
            moved.append(Moved(task.core_id, task.name, error=str(exc)))
            continue
        try:
            await _disable_core(context, task.core_id, job.id)
        except Exception as exc:
            await service.cancel(actor, job.id)
            moved.append(Moved(task.core_id, task.name, error=f"AstrBot kept it: {exc}"))
            continue
        moved.append(Moved(task.core_id, task.name, job_id=job.id))
    return moved


async def _disable_core(context: Context, core_id: str, job_id: str) -> None:
    manager = context.cron_manager
    job = await manager.db.get_cron_job(core_id)
    payload = dict(job.payload or {}) if job is not None else {}
    payload[MOVED_KEY] = job_id
    if await manager.update_job(core_id, enabled=False, payload=payload) is None:
        raise RuntimeError("the task is gone from AstrBot")


def _convert(job: Any) -> CoreTask:
    payload = job.payload if isinstance(job.payload, dict) else {}
    session = str(payload.get("session") or "").strip()
    message = str(payload.get("note") or job.description or job.name or "").strip()
    sender_id = str(payload.get("sender_id") or session.rsplit(":", 1)[-1])
    schedule, problem = _schedule_of(job, payload)
    if not session:
        problem = problem or "it has no chat to deliver to"
    elif not message:
        problem = problem or "it has no note to carry out"
    return CoreTask(
        core_id=str(job.job_id),
        name=str(job.name or ""),
        message=message,
        schedule=schedule,
        tz=job.timezone or _system_zone(),
        session=session,
        sender_id=sender_id,
        problem=problem,
    )


def _system_zone() -> str | None:
    """The zone AstrBot's scheduler uses for a task saved without one: the machine's
    (APScheduler's default, through tzlocal, which it depends on)."""
    try:
        from tzlocal import get_localzone_name

        return get_localzone_name()
    except Exception:  # no readable local zone: the plugin's default zone
        return None


def _schedule_of(job: Any, payload: dict[str, Any]) -> tuple[str, str]:
    if not job.run_once:
        expression = str(job.cron_expression or "").strip()
        return f"cron {expression}", "" if expression else "it has no cron expression"
    run_at = str(payload.get("run_at") or job.cron_expression or "").strip()
    try:
        datetime.fromisoformat(run_at)
    except ValueError:
        return f"once {run_at}", f"its time {run_at!r} is not a date and time"
    return f"once {run_at}", ""


def listing_text(tasks: list[CoreTask]) -> str:
    """The dry run: what an import would move, and how to go ahead."""
    if not tasks:
        return "AstrBot has no enabled future tasks of its own; nothing to import."
    lines = [f"AstrBot's own future tasks ({len(tasks)}); each would become an agent task here:"]
    for task in tasks:
        where = f" in {task.session}" if task.session else ""
        line = f"- {task.name or task.core_id}: {task.schedule}{where}: {task.message[:60]}"
        lines.append(line + (f" (not importable: {task.problem})" if task.problem else ""))
    lines.append(
        "Import them with /cron import-core confirm. They are disabled in AstrBot, not "
        "deleted: enable one there again to undo."
    )
    return "\n".join(lines)


def moved_text(moved: list[Moved]) -> str:
    done = [m for m in moved if m.job_id]
    lines = [f"Imported {len(done)} of {len(moved)} of AstrBot's future tasks."]
    lines += [f"- {m.name or m.core_id} -> {m.job_id}" for m in done]
    lines += [f"- {m.name or m.core_id}: not imported: {m.error}" for m in moved if not m.job_id]
    if done:
        lines.append("They are disabled in AstrBot (not deleted); see them with /cron list all")
    return "\n".join(lines)
