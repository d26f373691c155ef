"""Runs a job inside AstrBot: reminders send their text as written (no model involved);
``main`` and ``isolated`` jobs go to the agent runner."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

from ..core.chat_safe import chat_safe
from ..core.engine import RunContext
from ..core.models import Delivery, Job, Mode, Owner, RunStatus
from ..core.policy import Outcome
from ..core.schedule import format_local
from ..core.settings import Settings
from ..core.store import Store
from .delivery import SEND_RETRY_DELAYS, DeliveryError, delivery_session, send_with_retries
from .file_access import MediaRefused, is_admin_sender, owner_media_access
from .messages import build_chain
from .send_limits import SendLimits
from .targets import private_origin

if TYPE_CHECKING:
    from astrbot.api.star import Context

ALERT_CHARS = 400  # an alert to a member: one line, this long at most

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
        self.limits = SendLimits(settings, self.owner_is_admin)

    def owner_is_admin(self, job: Job) -> bool:
        return is_admin_sender(self.context, job.owner.sender_id, job.owner.origin)

    async def execute(self, job: Job, run: RunContext) -> Outcome:
        token = CURRENT_RUN.set(run.run_id)
        try:
            session = await delivery_session(job, self.store)
            if job.target.deliver is not False:
                refusal = self.limits.take(job, session, run.started_at)
                if refusal:
                    return await self._rate_limited(job, run, refusal)
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

    async def _rate_limited(self, job: Job, run: RunContext, refusal: str) -> Outcome:
        """A run over a send limit: recorded (never dropped) and the owner told once."""
        if self.limits.first_refusal(job, run.started_at):
            await self.alert(
                job.owner,
                f"Task {job.id} ({job.display_name}) sent nothing: {refusal}. Such runs are "
                "recorded (see /cron runs); this notice comes at most once an hour.",
            )
        return Outcome(
            RunStatus.ERROR,
            Delivery.NOT_DELIVERED,
            error=refusal,
            transient=True,
            rate_limited=True,
        )

    async def remind(self, job: Job, run: RunContext, session: str) -> Outcome:
        text = reminder_text(job, run, self.settings.reminder_prefix)
        if job.target.deliver is False:
            return Outcome(RunStatus.OK, Delivery.NOT_REQUESTED, output=text)
        try:
            media = owner_media_access(
                self.context, job.owner.origin, job.owner.sender_id
            ).check_all(job.payload.media)
        except MediaRefused as exc:
            return Outcome(RunStatus.ERROR, Delivery.NOT_DELIVERED, error=f"media refused: {exc}")
        try:
            delivery = await send_with_retries(
                self.context,
                session,
                lambda: build_chain(text, media),
                self.retry_delays,
            )
        except DeliveryError as exc:
            if job.target.best_effort:
                return Outcome(RunStatus.OK, Delivery.NOT_DELIVERED, output=text, error=str(exc))
            return Outcome(
                RunStatus.ERROR, Delivery.NOT_DELIVERED, error=str(exc), transient=exc.transient
            )
        run.mark_delivered(delivery)  # unknown too: it may have gone out, never send it twice
        return Outcome(RunStatus.OK, delivery, output=text)

    async def alert(self, owner: Owner, text: str) -> None:
        """Tell a job's owner, in the chat where they created it, something went wrong
        (best effort: an alert never fails a run; sent with retries, as one raised at
        start-up may meet a platform not yet connected). A member reads it as one line
        without server details."""
        if not is_admin_sender(self.context, owner.sender_id, owner.origin):
            text = chat_safe(text, ALERT_CHARS)
        try:
            await send_with_retries(
                self.context,
                private_origin(owner.origin),  # a Misskey note thread: a chat message
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
