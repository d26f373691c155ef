"""Runs a job inside AstrBot. Reminders send their text as written: no model involved."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ..core.engine import RunContext
from ..core.models import Delivery, Job, Mode, RunStatus
from ..core.policy import Outcome
from ..core.schedule import format_local
from ..core.settings import Settings
from .delivery import DeliveryError, delivery_session, send
from .messages import build_chain

if TYPE_CHECKING:
    from astrbot.api.star import Context


class HostExecutor:
    """The engine's executor: performs a run with AstrBot's platforms."""

    def __init__(self, context: Context, settings: Settings) -> None:
        self.context = context
        self.settings = settings

    async def execute(self, job: Job, run: RunContext) -> Outcome:
        if job.payload.mode != Mode.REMINDER:
            return Outcome(
                RunStatus.ERROR,
                Delivery.NOT_DELIVERED,
                error=f"mode {job.payload.mode.value} is not available in this version",
            )
        return await self.remind(job, run)

    async def remind(self, job: Job, run: RunContext) -> Outcome:
        text = reminder_text(job, run, self.settings.reminder_prefix)
        if job.target.deliver is False:
            return Outcome(RunStatus.OK, Delivery.NOT_REQUESTED, output=text)
        try:
            await send(self.context, delivery_session(job), build_chain(text, job.payload.media))
        except DeliveryError as exc:
            if job.target.best_effort:
                return Outcome(RunStatus.OK, Delivery.NOT_DELIVERED, output=text, error=str(exc))
            return Outcome(
                RunStatus.ERROR, Delivery.NOT_DELIVERED, error=str(exc), transient=exc.transient
            )
        run.mark_delivered()
        return Outcome(RunStatus.OK, Delivery.DELIVERED, output=text)

    async def alert(self, job: Job, text: str) -> None:
        """Tell a job's owner something went wrong (best effort: an alert never fails a run)."""
        with contextlib.suppress(DeliveryError):
            await send(self.context, job.owner.origin, build_chain(f"[future tasks] {text}", []))


def reminder_text(job: Job, run: RunContext, prefix: str) -> str:
    """The reminder as written, with the configured prefix and a note when it is late."""
    text = f"{prefix}{job.payload.message}" if prefix else job.payload.message
    if run.late and run.slot_at is not None:
        due = format_local(run.slot_at, job.schedule.tz)
        text += f"\n(late: this was due at {due})"
    return text
