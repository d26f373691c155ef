"""When the platform refuses to send: transient failures are retried, permanent ones
fail at once, best_effort runs still succeed, and the run history says what happened."""

from __future__ import annotations

import time

from core.service import Actor, JobSpec
from tests.integration.fakes.telegram import TgApiError
from tests.integration.harness import AstrBot


def _failing(times: int, error: TgApiError):
    """A sendMessage responder that fails ``times`` times, then lets the fake answer."""
    state = {"left": times}

    def respond(params: dict) -> dict | None:
        if params.get("text", "").startswith(("flaky", "blocked", "lenient")) and state["left"]:
            state["left"] -= 1
            raise error
        return None

    return respond


def _sends(tg, text: str, since: int) -> list:
    return [c for c in tg.sent(since) if c.plain_text == text]


def test_a_transient_send_failure_is_retried_and_delivered(astrbot: AstrBot) -> None:
    tg = astrbot.telegram
    tg.responders["sendMessage"] = _failing(1, TgApiError(502, "Bad Gateway"))
    try:
        actor = Actor(origin=astrbot.tg_umo(7501), sender_id="7501")
        mark = tg.mark()
        job = astrbot.run(
            astrbot.plugin.service.create(actor, JobSpec(message="flaky hello", run_at="1s"))
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(_sends(tg, "flaky hello", mark)) < 2:
            time.sleep(0.2)
        failed, delivered = _sends(tg, "flaky hello", mark)
        assert 4.5 <= delivered.at - failed.at <= 7  # the first retry waits 5 s
        time.sleep(0.5)
        runs = astrbot.runs(job.id)
        assert [(r.status.value, r.delivery.value) for r in runs] == [("ok", "delivered")], runs
    finally:
        tg.responders.pop("sendMessage", None)


def test_a_permanent_failure_disables_the_one_shot_at_once(astrbot: AstrBot) -> None:
    tg = astrbot.telegram
    tg.responders["sendMessage"] = _failing(
        10, TgApiError(403, "Forbidden: bot was blocked by the user")
    )
    try:
        actor = Actor(origin=astrbot.tg_umo(7502), sender_id="7502")
        job = astrbot.run(
            astrbot.plugin.service.create(actor, JobSpec(message="blocked hello", run_at="1s"))
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            stored = astrbot.run(astrbot.plugin.service.store.get_job(job.id))
            if stored is not None and not stored.enabled:
                break
            time.sleep(0.2)
        assert stored is not None and not stored.enabled
        assert "blocked" in stored.last_error and stored.last_status == "error"
        runs = astrbot.runs(job.id)
        assert [(r.status.value, r.delivery.value) for r in runs] == [("error", "not-delivered")]
    finally:
        tg.responders.pop("sendMessage", None)


def test_best_effort_records_not_delivered_without_failing(astrbot: AstrBot) -> None:
    tg = astrbot.telegram
    tg.responders["sendMessage"] = _failing(10, TgApiError(403, "Forbidden: bot was kicked"))
    try:
        actor = Actor(origin=astrbot.tg_umo(7503), sender_id="7503")
        spec = JobSpec(message="lenient hello", every="1h", best_effort=True)
        job = astrbot.run(astrbot.plugin.service.create(actor, spec))
        astrbot.run(astrbot.plugin.service.run_now(actor, job.id))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not _finished(astrbot.runs(job.id)):
            time.sleep(0.2)
        runs = astrbot.runs(job.id)
        assert [(r.status.value, r.delivery.value) for r in runs] == [("ok", "not-delivered")]
        stored = astrbot.run(astrbot.plugin.service.store.get_job(job.id))
        assert stored.enabled and stored.consecutive_errors == 0
    finally:
        tg.responders.pop("sendMessage", None)


def _finished(runs) -> bool:
    return bool(runs) and runs[0].status.value != "running"


def test_max_jobs_per_user_is_enforced_for_commands(astrbot: AstrBot) -> None:
    settings = astrbot.plugin.settings
    saved = settings.max_jobs_per_user
    settings.max_jobs_per_user = 2
    try:
        replies = []
        for n in range(3):
            mark = astrbot.onebot.mark()
            astrbot.run(astrbot.onebot.send_private_message(7504, f"/cron add every 2h task {n}"))
            reply = astrbot.run(
                astrbot.onebot.wait_for_action(lambda a: a.target == 7504, timeout=15, since=mark)
            )
            replies.append(reply.text)
        assert replies[0].startswith("Created") and replies[1].startswith("Created")
        assert replies[2].startswith("Error: you already have 2 tasks, the limit is 2")
    finally:
        settings.max_jobs_per_user = saved
