"""Runs a job inside AstrBot: reminders send their text as written (no model involved);
``main`` and ``isolated`` jobs go to the agent runner."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

from ..core.engine import RunContext
from ..core.models import Delivery, Job, Mode, RunStatus
from ..core.policy import Outcome
from ..core.schedule import format_local
from ..core.settings import Settings
from ..core.store import Store
from .delivery import SEND_RETRY_DELAYS, DeliveryError, delivery_session, send_with_retries
from .messages import build_chain
from .targets import private_origin

if TYPE_CHECKING:
    from astrbot.api.star import Context

# Set while a scheduled run executes, so the scheduling tools can refuse to be used from
# inside one (an agent run can not create further jobs).
CURRENT_RUN: ContextVar[str | None] = ContextVar("future_tasks_current_run", default=None)


class AgentModes(Protocol):
    async def run_main(self, job: Job, run: RunContext, session: str) -> Outcome: ...

    async def run_isolated(self, job: Job, run: RunContext, session: str) -> Outcome: ...


class HostExecutor:
    """The engine's executor: performs a run with AstrBot's platforms and providers."""

    def __init__(
        self,
        context: Context,
        settings: Settings,
        store: Store,
        *,
        agents: AgentModes | None = None,
        retry_delays: Sequence[float] = SEND_RETRY_DELAYS,
    ) -> None:
        self.context = context
        self.settings = settings
        self.store = store
        self.agents = agents
        self.retry_delays = tuple(retry_delays)

    async def execute(self, job: Job, run: RunContext) -> Outcome:
        token = CURRENT_RUN.set(run.run_id)
        try:
            session = await delivery_session(job, self.store)
            if job.payload.mode == Mode.REMINDER:
                return await self.remind(job, run, session)
            if self.agents is None:
                return Outcome(RunStatus.ERROR, Delivery.NOT_DELIVERED,
                               error="agent runs are not available")  # fmt: skip
            if job.payload.mode == Mode.MAIN:
                return await self.agents.run_main(job, run, session)
            return await self.agents.run_isolated(job, run, session)
        finally:
            CURRENT_RUN.reset(token)

    async def remind(self, job: Job, run: RunContext, session: str) -> Outcome:
        text = reminder_text(job, run, self.settings.reminder_prefix)
        if job.target.deliver is False:
            return Outcome(RunStatus.OK, Delivery.NOT_REQUESTED, output=text)
        try:
            delivery = await send_with_retries(
                self.context,
                session,
                lambda: build_chain(text, job.payload.media),
                self.retry_delays,
            )
        except DeliveryError as exc:
            if job.target.best_effort:
                return Outcome(RunStatus.OK, Delivery.NOT_DELIVERED, output=text, error=str(exc))
            return Outcome(
                RunStatus.ERROR, Delivery.NOT_DELIVERED, error=str(exc), transient=exc.transient
            )
        run.mark_delivered()  # also when unknown: it may have gone out, never send it twice
        return Outcome(RunStatus.OK, delivery, output=text)

    async def alert(self, job: Job, text: str) -> None:
        """Tell a job's owner something went wrong (best effort: an alert never fails a run;
        sent with retries, as one raised at start-up may meet a platform not yet connected)."""
        try:
            await send_with_retries(
                self.context,
                private_origin(job.owner.origin),  # a Misskey note thread: a chat message
                lambda: build_chain(f"[future tasks] {text}", []),
                self.retry_delays,
            )
        except DeliveryError:
            return


def reminder_text(job: Job, run: RunContext, prefix: str) -> str:
    """The reminder as written, with the configured prefix and a note when it is late."""
    text = f"{prefix}{job.payload.message}" if prefix else job.payload.message
    if run.late and run.slot_at is not None:
        due = format_local(run.slot_at, job.schedule.tz)
        text += f"\n(late: this was due at {due})"
    return text
