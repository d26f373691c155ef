"""The two agent run modes of a job (SPEC §4): ``main`` and ``isolated``.

- **main**: the event is handed to the host's agent in the owner's conversation, with
  its history and persona; the reply goes to the delivery target and the exchange is
  appended to that conversation, so the next chat turn knows about it. With the
  heartbeat on, ``next-heartbeat`` events wait in the store and one turn per chat
  handles all of them together.
- **isolated**: a fresh agent turn every run, with nothing of the conversation but its
  persona; its final answer is delivered and a summary is posted into the owner's
  conversation.

Both are one skeleton (``_turn``): an agent turn built as AstrBot builds its main agent
(``agent_turn``), then the final answer delivered through the run's one ``RunSender``
(``agent_outcome``), so delivery is tracked, deduplicated and limited.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from astrbot.api import logger
from astrbot.core.utils.session_lock import session_lock_manager

from ..core.engine import RunContext
from ..core.models import Delivery, Job, Owner, RunStatus
from ..core.policy import Outcome
from ..core.schedule import utc_now_ms
from ..core.settings import Settings
from ..core.store import Store
from .agent_host import (
    append_to_conversation,
    chat_config,
    conversation_of,
    load_history,
    role_of,
    scratch_conversation,
)
from .agent_outcome import AgentRunError, deliver_answer, error_outcome, failed_turn
from .agent_prompts import (
    HEARTBEAT_QUEUED,
    ISOLATED_NOTE,
    MAIN_NOTE,
    SUMMARY_CHARS,
    event_text,
    isolated_prompt,
    join,
    main_prompt,
    summarize,
    time_note,
)
from .agent_tools import RunSender
from .agent_turn import RunEvent, Turn, TurnInput, run_turn
from .messages import is_image

if TYPE_CHECKING:
    from astrbot.api.star import Context

DEFAULT_POST_PREFIX = "Cron"


class AgentRunner:
    """Runs ``main`` and ``isolated`` jobs with AstrBot's agent; the executor calls it."""

    def __init__(self, context: Context, settings: Settings, store: Store) -> None:
        self.context = context
        self.settings = settings
        self.store = store

    # ----- main -------------------------------------------------------------------------

    async def run_main(self, job: Job, run: RunContext, session: str) -> Outcome:
        """Hand the event to the agent in the owner's conversation (or queue it for the
        next heartbeat)."""
        text = event_text(job, run)
        if job.payload.wake_mode == "next-heartbeat" and self.settings.heartbeat_minutes > 0:
            await self.store.add_pending_event(job.owner.origin, job.id, text, utc_now_ms())
            return Outcome(RunStatus.OK, Delivery.NOT_REQUESTED, output=HEARTBEAT_QUEUED)
        turn = self._turn_of(job, run, session)
        return await self._main_turn(turn, main_prompt([text]), _images(job))

    async def wake(self, owner: Owner, text: str) -> Outcome:
        """An event handed in by hand (``/cron wake``): one main turn in the owner's chat,
        with no job behind it."""
        turn = Turn(session=owner.origin, owner=owner, provider_id=self._default_model())
        return await self._main_turn(turn, main_prompt([text]), [])

    async def heartbeat(self) -> None:
        """One heartbeat pass: each chat with waiting events gets one main turn with all of
        them. Events of a turn that failed are put back for the next pass."""
        for origin in await self.store.origins_with_pending_events():
            owner = await self._heartbeat_owner(origin)
            events = await self.store.take_pending_events(origin)
            if events:
                turn = Turn(session=origin, owner=owner, provider_id=self._default_model())
                await self._heartbeat_turn(turn, events)

    async def _heartbeat_turn(self, turn: Turn, events: list[str]) -> None:
        origin = turn.owner.origin
        try:
            async with asyncio.timeout(max(1, self.settings.agent_timeout_seconds)):
                outcome = await self._main_turn(turn, main_prompt(events), [])
        except TimeoutError:
            outcome = Outcome(
                RunStatus.TIMEOUT, error=f"timed out after {self.settings.agent_timeout_seconds} s"
            )
        except Exception as exc:  # one chat's failure must not stop the others
            outcome = Outcome(RunStatus.ERROR, error=f"{type(exc).__name__}: {exc}")
            logger.exception("[future tasks] heartbeat turn for %s failed", origin)
        sent = outcome.delivery in (Delivery.DELIVERED, Delivery.UNKNOWN)  # maybe out
        if not outcome.ok and not sent:
            logger.warning(
                f"[future tasks] heartbeat for {origin} failed ({outcome.error}); "
                f"{len(events)} event(s) wait for the next heartbeat"
            )
            now = utc_now_ms()
            for event in events:
                await self.store.add_pending_event(origin, None, event, now)

    async def _heartbeat_owner(self, origin: str) -> Owner:
        """Whom a heartbeat turn runs for: the owner of a waiting job's event (a member's
        rather than an admin's when they differ, so no event gains rights it lacked);
        without one, the chat's own user."""
        owners = []
        for job_id in await self.store.pending_event_job_ids(origin):
            job = await self.store.get_job(job_id)
            if job is not None and job.owner.origin == origin:
                owners.append(job.owner)
        if not owners:
            return Owner(origin=origin, sender_id=origin.rsplit(":", 1)[-1])
        cfg = chat_config(self.context, origin)
        members = [o for o in owners if role_of(o, cfg) != "admin"]
        return (members or owners)[0]

    async def _main_turn(self, turn: Turn, prompt: str, images: list[str]) -> Outcome:
        origin = turn.owner.origin
        async with session_lock_manager.acquire_lock(origin):  # one turn at a time per chat
            try:
                conversation = await conversation_of(self.context, origin)
            except Exception as exc:
                return error_outcome(f"could not read the conversation of {origin}: {exc}", exc)
            given = TurnInput(
                prompt=prompt,
                note=join(MAIN_NOTE, time_note(self.settings.timezone)),
                conversation=conversation,
                contexts=load_history(conversation.history),
                image_urls=images,
            )
            outcome, reply = await self._turn(turn, given)
            if outcome.status == RunStatus.OK:
                exchange = [{"role": "user", "content": prompt}]
                if reply:
                    exchange.append({"role": "assistant", "content": reply})
                try:
                    await append_to_conversation(self.context, origin, conversation.cid, exchange)
                except Exception:
                    logger.exception("[future tasks] could not save the exchange to %s", origin)
            return outcome

    # ----- isolated ---------------------------------------------------------------------

    async def run_isolated(self, job: Job, run: RunContext, session: str) -> Outcome:
        """A fresh agent turn; its answer is delivered and summarized in the main chat."""
        persona_id = job.payload.persona_id or self.settings.default_persona.strip() or None
        if persona_id and self.context.persona_manager.get_persona_v3_by_id(persona_id) is None:
            return Outcome(
                RunStatus.ERROR,
                Delivery.NOT_DELIVERED,
                error=f"persona {persona_id!r} does not exist in AstrBot; "
                "choose another one or clear it",
            )
        given = TurnInput(
            prompt=isolated_prompt(job, run),
            note=join(ISOLATED_NOTE, time_note(self.settings.timezone)),
            conversation=scratch_conversation(job.owner.origin, job.id, persona_id),
            image_urls=_images(job),
        )
        outcome, reply = await self._turn(self._turn_of(job, run, session), given)
        if outcome.status == RunStatus.OK:
            await self._post_to_main(job, reply)
        return outcome

    async def _post_to_main(self, job: Job, text: str) -> None:
        """Tell the owner's main conversation what the isolated run produced."""
        mode = self.settings.post_to_main.strip().lower()
        text = text.strip()
        if mode == "off" or not text:
            return
        body = text if mode == "full" else summarize(text, SUMMARY_CHARS)
        line = f"[{job.id} {job.display_name}] {body}"
        if prefix := _post_prefix(job, self.settings):
            line = f"{prefix} {line}"
        line = summarize(line, max(1, self.settings.post_to_main_max_chars))
        origin = job.owner.origin
        note = [{"role": "assistant", "content": line}]
        try:
            async with session_lock_manager.acquire_lock(origin):
                conversation = await conversation_of(self.context, origin)
                await append_to_conversation(self.context, origin, conversation.cid, note)
        except Exception:  # the run itself succeeded; a missing note must not fail it
            logger.exception("[future tasks] could not post the result of %s to %s", job.id, origin)

    # ----- the skeleton both modes share -------------------------------------------------

    def _turn_of(self, job: Job, run: RunContext, session: str) -> Turn:
        """The turn of a job's run: its owner, its model, its delivery settings."""
        return Turn(
            session=session,
            owner=job.owner,
            provider_id=(job.payload.provider_id or "").strip() or self._default_model(),
            job_id=job.id,
            deliver=job.target.deliver,
            best_effort=job.target.best_effort,
            on_delivered=run.mark_delivered,
        )

    def _default_model(self) -> str:
        return self.settings.default_provider.strip()

    async def _turn(self, turn: Turn, given: TurnInput) -> tuple[Outcome, str]:
        """One agent turn and the delivery of its answer; the outcome and what the run
        said (its answer, else the messages it sent)."""
        sender = RunSender(
            self.context, turn.session, self.settings.max_messages_per_run, turn.on_delivered
        )
        try:
            answer = await run_turn(self.context, turn, sender, given)
        except AgentRunError as exc:
            return failed_turn(sender, str(exc), exc.transient), ""
        outcome = await deliver_answer(
            sender,
            answer,
            deliver=turn.deliver,
            best_effort=turn.best_effort,
            max_chars=self.settings.max_message_chars,
        )
        return outcome, answer or "\n".join(sender.sent)


def _images(job: Job) -> list[str]:
    """The task's images, shown to the model as AstrBot shows a chat's images."""
    return [m for m in job.payload.media if is_image(m)]


def _post_prefix(job: Job, settings: Settings) -> str:
    """The task's own post-to-main prefix, else the plugin's setting."""
    own = job.payload.post_prefix
    return (own if own is not None else settings.post_to_main_prefix).strip()


__all__ = [
    "HEARTBEAT_QUEUED",
    "AgentRunner",
    "RunEvent",
    "event_text",
    "isolated_prompt",
    "main_prompt",
    "summarize",
]
