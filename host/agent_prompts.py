"""What the model reads in a job's agent run: the notes that tell it it was woken by the
scheduler, the prompts built from a job's events, and the text cutting they share."""

from __future__ import annotations

from ..core.engine import RunContext
from ..core.models import Job
from ..core.schedule import format_local, utc_now_ms

SUMMARY_CHARS = 300
HEARTBEAT_QUEUED = "queued for the next heartbeat"

MAIN_NOTE = (
    "You were woken by the scheduler, not by a new message from the user. Handle the "
    "scheduled event below: act on it or relay it to the user. Your final answer is "
    "delivered to the user as a message, so write it for them. You can not create, "
    "change or cancel scheduled tasks from this turn."
)
ISOLATED_NOTE = (
    "You are running as a scheduled task, on your own: nobody is chatting with you "
    "right now. Do what the task asks, using your tools if needed. Your final answer "
    "is delivered to the user as a message, so make it the result itself, short and "
    "complete. Use send_message_to_user only for extra messages such as files or "
    "images. You can not create, change or cancel scheduled tasks from this run."
)


def event_text(job: Job, run: RunContext) -> str:
    """One scheduled event as the agent reads it (also what waits for the heartbeat)."""
    label = f'task {job.id} "{job.display_name}"'
    if run.late and run.slot_at is not None:
        label += f", late: it was due at {format_local(run.slot_at, job.schedule.tz)}"
    return f"{job.payload.message} ({label}){media_note(job.payload.media)}"


def main_prompt(events: list[str]) -> str:
    if len(events) == 1:
        return f"A scheduled event fired: {events[0]}\nAct on it or relay it to the user."
    lines = "\n".join(f"- {event}" for event in events)
    return f"Scheduled events fired:\n{lines}\nAct on them or relay them to the user."


def isolated_prompt(job: Job, run: RunContext) -> str:
    prompt = f"[cron:{job.id} {job.display_name}] {job.payload.message}"
    if run.late and run.slot_at is not None:
        prompt += (
            f"\n(This run is late: it was due at {format_local(run.slot_at, job.schedule.tz)}.)"
        )
    return prompt + media_note(job.payload.media)


def media_note(media: list[str]) -> str:
    """The task's attachments named in the prompt, so the model knows they exist and can
    pass them on with send_message_to_user (images are also shown to it)."""
    if not media:
        return ""
    return "\nAttached to this task: " + ", ".join(media)


def summarize(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters; a limit of 0 or less keeps it whole."""
    return summarize(text, limit) if limit > 0 else text


def join(*parts: str) -> str:
    return "\n\n".join(part.strip() for part in parts if part and part.strip())


def time_note(timezone: str) -> str:
    return f"Current time: {format_local(utc_now_ms(), timezone)}."
