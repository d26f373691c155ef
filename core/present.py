"""How jobs and runs read in chat replies and tool results: short, plain, one line each
where a list is shown, and always with times in the job's own zone."""

from __future__ import annotations

from .models import Job, Mode, Run, ScheduleKind
from .phrases import stated_choice
from .schedule import MS, fires_between, format_local, ms_to_local

PREVIEW_RUNS = 3
_PREVIEW_HORIZON_MS = 400 * 86_400 * MS

_MODE_WORDS = {Mode.REMINDER: "reminder", Mode.MAIN: "main-session event", Mode.ISOLATED: "agent"}


def duration_words(ms: int) -> str:
    """``5400000`` -> ``1h30m``: the compact form users type."""
    seconds = ms // MS
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def schedule_words(job: Job) -> str:
    """The schedule in words: ``once at …``, ``every 2h``, ``cron 0 7 * * mon-fri``."""
    schedule = job.schedule
    if schedule.kind == ScheduleKind.AT:
        assert schedule.at_ms is not None
        return f"once at {_short_time(schedule.at_ms, schedule.tz)}"
    if schedule.kind == ScheduleKind.EVERY:
        assert schedule.every_ms is not None
        return f"every {duration_words(schedule.every_ms)}"
    return f"cron {schedule.expr} ({schedule.tz})"


def _short_time(at_ms: int, tz: str) -> str:
    local = ms_to_local(at_ms, tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def when_words(at_ms: int, tz: str, now_ms: int) -> str:
    """``tomorrow, Sun 29 Nov, 08:00 CST``: a time as people check it, with the weekday,
    the day word where there is one, and the zone's abbreviation (the year when it is
    not this one)."""
    local = ms_to_local(at_ms, tz)
    today = ms_to_local(now_ms, tz).date()
    day_word = {0: "today", 1: "tomorrow"}.get((local.date() - today).days)
    year = f" {local.year}" if local.year != today.year else ""
    text = f"{local:%a} {local.day} {local:%b}{year}, {local:%H:%M} {local.tzname()}"
    return f"{day_word}, {text}" if day_word else text


def interpreted_time(job: Job, now_ms: int) -> list[str]:
    """What a create or edit reply adds to the next run: the time in words, and for a
    recurring job its schedule and next three runs, so a misread phrase shows at once."""
    if not job.enabled or job.next_run_at is None:
        return []
    tz = job.schedule.tz
    notes = _choice_note(job)
    if job.schedule.kind == ScheduleKind.AT:
        return [f"when: {when_words(job.next_run_at, tz, now_ms)}", *notes]
    horizon = job.next_run_at + _PREVIEW_HORIZON_MS
    fires = [
        job.next_run_at,
        *fires_between(job.schedule, job.next_run_at, horizon, PREVIEW_RUNS - 1),
    ]
    return [
        f"repeats: {schedule_words(job)}",
        "next runs: " + "; ".join(when_words(fire, tz, now_ms) for fire in fires),
        *notes,
    ]


def _choice_note(job: Job) -> list[str]:
    """``note: 9 read as 09:00; for 21:00 write 9pm`` when a bare hour was read one way."""
    schedule = job.schedule
    if not schedule.text or schedule.kind == ScheduleKind.EVERY:
        return []
    if schedule.kind == ScheduleKind.AT:
        assert schedule.at_ms is not None
        chosen = ms_to_local(schedule.at_ms, schedule.tz).hour
    else:
        hour_field = (schedule.expr or "").split()[1:2]
        if not hour_field or not hour_field[0].isdigit():
            return []
        chosen = int(hour_field[0])
    said = stated_choice(schedule.text, chosen)
    return [f"note: {said}"] if said else []


def state_words(job: Job) -> str:
    if job.running_run_id:
        return "running"
    if not job.enabled:
        return "paused" if job.last_status in (None, "ok") else f"disabled ({job.last_status})"
    return f"next {_short_time(job.next_run_at, job.schedule.tz)}" if job.next_run_at else "idle"


def job_line(job: Job) -> str:
    """One line of ``/cron list``; it starts with the job id (an output rule)."""
    label = job.name or _clip(job.payload.message, 40)
    mode = "" if job.payload.mode == Mode.REMINDER else f" [{job.payload.mode.value}]"
    return f"{job.id} | {schedule_words(job)} | {state_words(job)}{mode} | {label}"


def job_details(job: Job) -> str:
    tz = job.schedule.tz
    lines = [
        f"id: {job.id}" + (f" ({job.name})" if job.name else ""),
        f"mode: {_MODE_WORDS[job.payload.mode]}",
        f"schedule: {schedule_words(job)}"
        + (f" (as written: {job.schedule.text})" if job.schedule.text else ""),
        f"time zone: {tz}",
        f"state: {'enabled' if job.enabled else 'paused'}"
        + (", running now" if job.running_run_id else ""),
        f"next run: {format_local(job.next_run_at, tz) if job.enabled else 'none (paused)'}",
        f"last run: {format_local(job.last_run_at, tz) if job.last_run_at else 'never'}"
        + (f" ({job.last_status}, {job.last_delivery})" if job.last_status else ""),
    ]
    if job.last_error:
        lines.append(f"last error: {_clip(job.last_error, 200)}")
    lines.append(f"delivers to: {target_words(job)}")
    lines.append(f"catch-up: {job.catch_up.value}")
    if job.is_one_shot:
        lines.append("after a successful run: " + ("deleted" if job.delete_after_run else "kept"))
    lines.append(f"message: {_clip(job.payload.message, 500)}")
    return "\n".join(lines)


def target_words(job: Job) -> str:
    target = job.target
    if target.deliver is False:
        return "nobody (delivery off)"
    if target.channel or target.to:
        return ":".join(p for p in (target.channel, target.to) if p)
    return "this chat"


def run_line(run: Run, tz: str) -> str:
    when = _short_time(run.started_at, tz)
    late = " late" if run.late else ""
    detail = run.error or run.output
    tail = f" | {_clip(detail, 80)}" if detail else ""
    return f"{when} | {run.trigger.value}{late} | {run.status.value} | {run.delivery.value}{tail}"


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
