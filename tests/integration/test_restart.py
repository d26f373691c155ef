"""The plugin across AstrBot restarts: the real ``astrbot run`` as a subprocess (see
:mod:`tests.integration.process`), ended with SIGTERM, SIGKILL or SIGINT and started
again on the same home and database, while a QQ user talks to it over OneBot v11."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator

import pytest

from tests.integration.process import AstrBotProcess

LATE_MARKER = "(late: this was due at "
RESTART_AFTER_DUE_S = 1.0
"""How long after the reminder's due time the stopped AstrBot is started again (its
scheduler comes up ~4 s later, so the reminder is ~5 s overdue by then)."""
CLIENT_BACK_AFTER_S = 5.0
"""At most this long after the plugin's scheduler started, the fake QQ client reconnects."""
CLIENT_LAG_S = 0.5
"""The fake QQ client reconnects this long after the plugin started the catch-up run."""


@pytest.fixture(scope="module")
def astrbot_proc() -> Iterator[AstrBotProcess]:
    """A started AstrBot subprocess (plugin loaded, fake OneBot connected) shared by the
    module; tests may leave it stopped (the next test starts it). Always killed at the end."""
    proc = AstrBotProcess()
    try:
        proc.start()
        yield proc
    finally:
        proc.close()
        proc.dump_log("astrbot-restart.log")
        proc.cleanup()


@pytest.fixture
def proc(astrbot_proc: AstrBotProcess) -> AstrBotProcess:
    """The module's AstrBot, running."""
    if not astrbot_proc.running:
        astrbot_proc.start()
    return astrbot_proc


def _job_id(reply: str) -> str:
    match = re.search(r"id: ([a-z0-9]{8})", reply)
    assert match, reply
    return match[1]


def _catch_up_started(proc: AstrBotProcess, job: str, timeout: float) -> None:
    """Wait until the plugin claimed its first run of ``job`` after the boot, plus
    :data:`CLIENT_LAG_S` (or ``timeout`` passes: a plugin that waits for the platform
    before it runs anything is fine too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.query("SELECT 1 FROM runs WHERE job_id = ?", (job,)):
            time.sleep(CLIENT_LAG_S)
            return
        time.sleep(0.05)


def _wait_reminder(proc: AstrBotProcess, job: str, user: int, since: int, timeout: float):
    """The reminder's send; fails early once the database says the job is dead."""
    deadline = time.monotonic() + timeout
    while True:
        for action in proc.onebot.sent(since):
            if action.text.startswith("tea time"):
                return action
        jobs = proc.query("SELECT enabled, body FROM jobs WHERE id = ?", (job,))
        dead = jobs and jobs[0]["enabled"] == 0
        if dead or time.monotonic() > deadline:
            runs = [dict(r) for r in proc.query("SELECT * FROM runs WHERE job_id = ?", (job,))]
            state = json.loads(jobs[0]["body"]) if jobs else "deleted"
            raise AssertionError(
                f"reminder {job} for {user} not delivered after the restart "
                f"({'job disabled' if dead else f'{timeout}s passed'})\n"
                f"runs: {runs}\njob: {state}\nsent: {[a.text for a in proc.onebot.sent(since)]}"
            )
        time.sleep(0.05)


def _reminder_due_during_downtime(proc: AstrBotProcess, user: int, end: Callable[[], object]):
    """Create a 6 s reminder, end AstrBot at once, start it again after the due time with the QQ side (OneBot implementation) reconnecting a moment after AstrBot is up, as
    NapCat/Lagrange do: the reminder arrives once, marked late, and its run is recorded
    as delivered."""
    mark = proc.onebot.mark()
    reply = proc.say(user, "/cron add 6s tea time", starts="Created")
    job = _job_id(reply)
    end()
    assert not proc.running
    assert not [a for a in proc.onebot.sent(mark) if a.text.startswith("tea time")]

    (row,) = proc.query("SELECT next_run_at, enabled FROM jobs WHERE id = ?", (job,))
    due_ms = row["next_run_at"]
    assert row["enabled"] == 1 and due_ms is not None
    time.sleep(max(0.0, due_ms / 1000 + RESTART_AFTER_DUE_S - time.time()))

    restarted = time.monotonic()
    proc.onebot.hold_reconnect = True  # the QQ side comes back after the catch-up run
    try:
        proc.start(wait=False)
        proc.wait_ready(onebot=False)
        _catch_up_started(proc, job, CLIENT_BACK_AFTER_S)
    finally:
        proc.onebot.hold_reconnect = False
    proc.wait_onebot()

    action = _wait_reminder(proc, job, user, mark, timeout=40)
    assert action.name == "send_private_msg" and action.target == user, action
    assert LATE_MARKER in action.text, action.text
    assert action.at * 1000 >= due_ms + RESTART_AFTER_DUE_S * 1000  # not before the restart
    # It comes with the scheduler's start and the send retries, not the one-shot's 30-s
    # retry or a 60-s re-arm.
    assert action.monotonic - restarted < 30, action.monotonic - restarted

    time.sleep(1.0)  # a duplicate would follow right behind
    copies = [a.text for a in proc.onebot.sent(mark) if a.text.startswith("tea time")]
    assert len(copies) == 1, copies

    proc.stop()
    runs = proc.query(
        "SELECT trigger, status, delivery, late, slot_at FROM runs WHERE job_id = ?", (job,)
    )
    assert len(runs) == 1, [dict(r) for r in runs]
    (run,) = runs
    assert (run["status"], run["delivery"], run["late"]) == ("ok", "delivered", 1), dict(run)
    assert run["slot_at"] == due_ms, dict(run)
    assert proc.query("SELECT id FROM jobs WHERE id = ?", (job,)) == []  # one-shot: deleted


def test_reminder_due_while_stopped_with_sigterm_arrives_once_late(
    proc: AstrBotProcess,
) -> None:
    _reminder_due_during_downtime(proc, 6101, proc.stop)


def test_reminder_due_while_killed_arrives_once_late(proc: AstrBotProcess) -> None:
    _reminder_due_during_downtime(proc, 6102, proc.kill)


def test_recurring_jobs_survive_a_restart_with_the_same_id_and_next_run(
    proc: AstrBotProcess,
) -> None:
    user = 6103
    interval = _job_id(proc.say(user, "/cron add every 2h drink water", starts="Created"))
    cron = _job_id(
        proc.say(user, '/cron add "0 7 * * mon-fri" --name standup Standup!', starts="Created")
    )
    before = proc.say(user, "/cron list")
    shown_before = proc.say(user, f"/cron show {interval}")
    next_runs = {
        r["id"]: r["next_run_at"]
        for r in proc.query("SELECT id, next_run_at FROM jobs WHERE id IN (?, ?)", (interval, cron))
    }
    assert set(next_runs) == {interval, cron} and all(next_runs.values()), next_runs

    proc.restart("interrupt")  # the graceful path; SIGTERM/SIGKILL are covered above
    assert proc.grep("[future tasks] scheduler stopped")  # terminate() ran on SIGINT

    after = proc.say(user, "/cron list")
    assert after == before, (before, after)
    lines = {line.split(" | ")[0]: line for line in after.splitlines()}
    assert "every 2h" in lines[interval] and "drink water" in lines[interval], after
    assert "cron 0 7 * * mon-fri" in lines[cron] and "standup" in lines[cron], after
    assert proc.say(user, f"/cron show {interval}") == shown_before

    proc.kill()
    assert {
        r["id"]: r["next_run_at"]
        for r in proc.query("SELECT id, next_run_at FROM jobs WHERE id IN (?, ?)", (interval, cron))
    } == next_runs
    assert (
        proc.query("SELECT COUNT(*) AS n FROM runs WHERE job_id IN (?, ?)", (interval, cron))[0][
            "n"
        ]
        == 0
    )
