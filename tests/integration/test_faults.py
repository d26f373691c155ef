"""Faults under the real AstrBot: the model failing or hanging (in-process), and a corrupt
database file at boot and a disk that fills up or turns read-only (the subprocess harness).

The platform refusing to send (transient: retried after 5 s; permanent: the one-shot is
disabled at once; ``best_effort``) is in ``test_delivery_failures.py``; a locked database,
a full disk under the engine and clock jumps are in ``tests/unit/test_faults.py``; SIGKILL
at random moments is in ``test_crash_trials.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.service import Actor, JobSpec
from tests.integration.fakes.llm import LLMRequest, Reply
from tests.integration.harness import AstrBot
from tests.integration.process import AstrBotProcess

USER = 7601
ONE_SHOT_RETRY_S = 30  # SPEC §6: a one-shot's first transient retry


@contextlib.contextmanager
def model_answering(astrbot: AstrBot, answer: Callable[[LLMRequest], Reply]) -> Iterator[None]:
    """The scripted model answers every unscripted request with ``answer``."""
    before = astrbot.llm.default_reply
    astrbot.llm.default_reply = answer  # type: ignore[assignment]
    try:
        yield
    finally:
        astrbot.llm.default_reply = before


def _agent_job(astrbot: AstrBot, message: str, **fields: Any):
    actor = Actor(origin=astrbot.umo(USER), sender_id=str(USER))
    spec = JobSpec(message=message, mode="isolated", run_at="1s", **fields)
    return astrbot.run(astrbot.plugin.service.create(actor, spec))


# ----- the model fails -----------------------------------------------------------------


def test_a_model_error_fails_the_run_as_transient_and_schedules_a_retry(
    astrbot: AstrBot,
) -> None:
    def overloaded(request: LLMRequest) -> Reply:
        return Reply(text="The server is overloaded", status=503)

    mark = astrbot.onebot.mark()
    with model_answering(astrbot, overloaded):
        job = _agent_job(astrbot, "summarize the news (model down)")
        run = astrbot.finished_run(job.id)
    assert run.status.value == "error" and run.delivery.value == "not-delivered", run
    assert "503" in (run.error or "") or "overload" in (run.error or "").lower(), run.error
    after = astrbot.run(astrbot.plugin.service.store.get_job(job.id))
    assert after is not None and after.enabled and after.retries == 1, after
    wait_s = ((after.next_run_at or 0) - (run.ended_at or 0)) / 1000
    assert ONE_SHOT_RETRY_S - 2 <= wait_s <= ONE_SHOT_RETRY_S + 2, wait_s
    assert [a for a in astrbot.onebot.sent(mark) if "news" in a.text] == []
    astrbot.run(astrbot.plugin.service.store.delete_job(job.id))


def test_a_hanging_model_times_out_and_never_delays_a_plain_reminder(astrbot: AstrBot) -> None:
    def hanging(request: LLMRequest) -> Reply:
        return Reply(text="too late", delay=8.0)

    actor = Actor(origin=astrbot.umo(USER), sender_id=str(USER))
    mark = astrbot.onebot.mark()
    with model_answering(astrbot, hanging):
        agent = _agent_job(astrbot, "check the build (model hangs)", timeout_seconds=2)
        reminder = astrbot.run(
            astrbot.plugin.service.create(actor, JobSpec(message="stand up", run_at="2s"))
        )
        due = reminder.next_run_at or 0
        sent = astrbot.run(
            astrbot.onebot.wait_for_action(lambda a: a.text == "stand up", timeout=10, since=mark)
        )
        run = astrbot.finished_run(agent.id, timeout=15)
    assert sent.at * 1000 - due < 1000, sent.at * 1000 - due  # on time, agent still waiting
    assert run.status.value == "timeout" and "timed out after 2" in (run.error or ""), run
    assert (run.ended_at or 0) - run.started_at < 4000, run
    after = astrbot.run(astrbot.plugin.service.store.get_job(agent.id))
    assert after is not None and after.enabled and after.retries == 1, after  # transient
    assert [a for a in astrbot.onebot.sent(mark) if a.text == "too late"] == []
    astrbot.run(astrbot.plugin.service.store.delete_job(agent.id))


# ----- the database file ---------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wait_scheduler_refused(proc: AstrBotProcess, timeout: float = 90.0) -> None:
    """AstrBot boots on while the plugin logs that its scheduler will not start."""
    deadline = time.monotonic() + timeout
    while not proc.grep("[future tasks] the scheduler will not start", current=True):
        assert proc.running and time.monotonic() < deadline, proc.log_tail()
        time.sleep(0.1)


def test_a_corrupt_database_at_boot_stops_the_scheduler_and_is_left_untouched() -> None:
    with AstrBotProcess() as proc:
        proc.db_path.parent.mkdir(parents=True, exist_ok=True)
        proc.db_path.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
        before = _sha256(proc.db_path)
        proc.start(wait=False)
        _wait_scheduler_refused(proc)
        proc.wait_onebot()  # AstrBot itself runs on; only the plugin's scheduler is off
        status = proc.say(USER, "/cron status")
        assert "database" in status.lower() and "not" in status.lower(), status
        refused = proc.say(USER, "/cron add 5m tea")
        assert refused.startswith("Error:") or "database" in refused.lower(), refused
        assert "id:" not in refused, refused
        proc.kill()
        assert _sha256(proc.db_path) == before  # never repaired, replaced or rewritten
        assert [p.name for p in proc.db_path.parent.iterdir()] == [proc.db_path.name]


@contextlib.contextmanager
def small_tmpfs(size: str = "4m") -> Iterator[Path]:
    """A tmpfs of its own (root only; skipped where mounting is not allowed)."""
    mount = Path(tempfile.mkdtemp(prefix="ft-tmpfs-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
        mount.rmdir()


def _fill(mount: Path) -> Path:
    """Take every free byte of the file system; the filler's path (delete it to free)."""
    filler = mount / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (65536, 4096, 1):  # big writes, then whatever is left of a page
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * chunk):
                    pass
    finally:
        os.close(fd)
    return filler


def _remount(mount: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount)], check=True)


@pytest.fixture
def on_tmpfs() -> Iterator[tuple[AstrBotProcess, Path]]:
    """AstrBot (started) whose plugin keeps its database on a 4 MB tmpfs of its own."""
    with small_tmpfs() as mount:
        database = mount / "tasks" / "future_tasks.db"
        with AstrBotProcess(plugin_config={"database_path": str(database)}) as proc:
            proc.start()
            yield proc, mount


def test_a_full_disk_refuses_clearly_and_loses_no_reminder(
    on_tmpfs: tuple[AstrBotProcess, Path],
) -> None:
    proc, mount = on_tmpfs
    mark = proc.onebot.mark()
    proc.say(USER, "/cron add 6s tea time", starts="Created")
    filler = _fill(mount)
    # A big message needs new pages in the write-ahead log: there is no room.
    full = proc.say(USER, f"/cron add 5m {'x' * 6000}")
    assert "disk holding the task database is full" in full, full
    assert "nothing was changed" in full, full
    assert not proc.say(USER, "/cron list").startswith("Error")  # reading works
    time.sleep(7)  # the reminder falls due while the disk is full
    filler.unlink()
    sent = proc.wait_for(lambda a: a.text.startswith("tea time"), since=mark, timeout=15)
    assert sent.name == "send_private_msg" and sent.target == USER
    assert proc.say(USER, "/cron add 5m after", starts="Created")
    time.sleep(1.0)
    copies = [a for a in proc.onebot.sent(mark) if a.text.startswith("tea time")]
    assert len(copies) == 1, [a.text for a in copies]
    proc.interrupt()
    assert proc.query("PRAGMA integrity_check")[0][0] == "ok"
    bodies = [r["body"] for r in proc.query("SELECT body FROM jobs")]
    assert len(bodies) == 1 and "after" in bodies[0], bodies


def test_a_read_only_disk_at_boot_stops_the_scheduler_and_the_restart_catches_up(
    on_tmpfs: tuple[AstrBotProcess, Path],
) -> None:
    proc, mount = on_tmpfs
    database = proc.db_path
    mark = proc.onebot.mark()
    proc.say(USER, "/cron add 8s tea time", starts="Created")
    proc.interrupt()  # a clean stop closes the files, so the disk can go read-only
    before = {p.name: _sha256(p) for p in database.parent.iterdir()}
    _remount(mount, "ro")
    try:
        proc.start(wait=False)
        _wait_scheduler_refused(proc)
        proc.wait_onebot()
        status = proc.say(USER, "/cron status")
        assert "database" in status.lower(), status
        time.sleep(8)  # the reminder falls due meanwhile: nothing fires
        assert not [a for a in proc.onebot.sent(mark) if a.text.startswith("tea")]
        proc.kill()
    finally:
        _remount(mount, "rw")
    assert {p.name: _sha256(p) for p in database.parent.iterdir()} == before
    proc.start()  # writable again: the missed reminder is caught up, marked late
    sent = proc.wait_for(lambda a: a.text.startswith("tea time"), since=mark, timeout=30)
    assert "(late: this was due at" in sent.text, sent.text
    time.sleep(1.0)
    assert len([a for a in proc.onebot.sent(mark) if a.text.startswith("tea")]) == 1
