"""How an agent turn's result becomes a run's ``Outcome``: the final answer delivered
(or not), and what a failed turn means for retrying."""

from __future__ import annotations

from ..core.models import Delivery, RunStatus
from ..core.policy import Outcome
from .agent_prompts import cut
from .agent_tools import RunSender, SendResult
from .delivery import DeliveryError
from .failures import is_transient


class AgentRunError(RuntimeError):
    """An agent turn that did not produce an answer; ``transient`` says whether trying
    again later may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


async def deliver_answer(
    sender: RunSender,
    answer: str,
    *,
    deliver: bool | None,
    best_effort: bool,
    max_chars: int,
) -> Outcome:
    """Deliver the final answer (unless delivery is off or it was sent already) and say
    what reached the user."""
    problem = ""
    if deliver is not False and answer and not sender.already_sent(answer):
        try:
            if await sender.send(answer) is SendResult.LIMIT:
                problem = (
                    f"the final answer was not sent: the run already sent "
                    f"{sender.limit} messages (max_messages_per_run)"
                )
        except DeliveryError as exc:
            if not (sender.delivered or best_effort):
                return Outcome(
                    RunStatus.ERROR,
                    Delivery.NOT_DELIVERED,
                    output=cut(answer, max_chars),
                    error=str(exc),
                    transient=exc.transient,
                )
            problem = str(exc)
    output = cut(answer or "\n".join(sender.sent), max_chars)
    if sender.delivered:
        return Outcome(RunStatus.OK, sender.delivery, output=output, error=problem)
    if deliver is False:
        return Outcome(RunStatus.OK, Delivery.NOT_REQUESTED, output=output)
    if not problem:
        problem = (
            "; ".join(sender.errors)
            if sender.errors
            else "the agent produced no answer, so nothing was sent"
        )
    return Outcome(RunStatus.OK, Delivery.NOT_DELIVERED, output=output, error=problem)


def error_outcome(message: str, exc: BaseException) -> Outcome:
    """A run that failed before its agent turn began."""
    return Outcome(
        RunStatus.ERROR, Delivery.NOT_DELIVERED, error=message, transient=is_transient(exc)
    )


def failed_turn(sender: RunSender, message: str, transient: bool) -> Outcome:
    """A failed agent turn, as it happened (what it already sent is reported delivered;
    the engine's rules never retry such a run)."""
    if sender.delivered:
        return Outcome(
            RunStatus.ERROR,
            sender.delivery,
            output="\n".join(sender.sent),
            error=message,
            transient=transient,
        )
    return Outcome(RunStatus.ERROR, Delivery.NOT_DELIVERED, error=message, transient=transient)
