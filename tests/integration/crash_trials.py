"""Crash trials: the real AstrBot killed with SIGKILL at random moments, again and again.

A QQ user (the fake OneBot v11 client) keeps scheduling plain reminders and agent jobs
(``--agent``; the scripted model is sometimes slow) that fall due within seconds, while
two recurring reminders fire every few seconds. Each *cycle* starts AstrBot (or finds it
running), schedules a few jobs and SIGKILLs the process at a random moment: during the
boot, before a run is claimed, while an agent run waits for the model, while a message
is on its way (the QQ side acknowledges each send a little late, so a kill can land
after QQ has the message but before AstrBot knows), or while SQLite writes. After each
kill the database file is checked (``PRAGMA integrity_check``) before the next boot.

At the end AstrBot is started a last time, left to finish every pending run and
stopped gracefully; then what the QQ client received is compared with the run history:

- a one-shot job delivered exactly once is **ok**;
- delivered twice is a **duplicate**, *explained* when its history shows a run that was
  interrupted before its delivery could be recorded (the kill fell between QQ taking the
  message and the database noting it: SPEC §6 runs the one-shot again), unexplained
  otherwise;
- never delivered is **lost**, unless its history shows it interrupted twice, which SPEC
  §6 answers by pausing the job and telling its owner (counted as *paused after two
  interruptions*, with whether the alert got out before the next kill);
- a recurring job: every run recorded as delivered reached QQ, and any extra copies are
  covered by interrupted runs; no slot ran twice.

Run by hand for a longer trial (the CI test runs 50 kills)::

    .venv/bin/python -m tests.integration.crash_trials --kills 300 --seed 7
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tests.integration.fakes.llm import LLMRequest, Reply
from tests.integration.fakes.onebot import Action
from tests.integration.process import AstrBotProcess

TRIAL_CONFIG = {
    "min_interval_seconds": 5,
    "max_jobs_per_user": 100_000,
    "run_history_keep": 100_000,
}
"""Plugin settings for the trial: fast recurring jobs, no per-user cap, full history."""

USER = 7301
RECURRING_EVERY = "6s"
ACK_DELAY_S = 0.25
"""The QQ side acknowledges each send this late: the window a kill 'mid-delivery' hits."""
SLOW_MODEL_CHANCE = 0.4
SLOW_MODEL_S = (1.0, 3.0)
BOOT_KILL_CHANCE = 0.15
"""Share of cycles killed during the boot instead of after it."""
KILL_MOMENTS = {
    "at random": 0.35,
    "before a claim": 0.15,
    "mid-run": 0.2,
    "mid-delivery": 0.15,
    "mid-write": 0.15,
}
"""Where a running cycle's kill is aimed, and how often (see :meth:`CrashTrial.aim`)."""
RANDOM_KILL_S = (0.0, 5.0)
AIM_TIMEOUT_S = 8.0
"""An aimed kill whose moment does not come within this long falls at that time."""
SETTLE_TIMEOUT_S = 120.0
_TOKEN = re.compile(r"trial-[rae]\d+")


@dataclass
class TrialJob:
    """A job the trial scheduled, and the token its messages carry."""

    id: str
    token: str
    kind: str  # "reminder", "agent" or "recurring"
    cycle: int


@dataclass
class Kill:
    """One SIGKILL: when it fell and what the database looked like afterwards."""

    cycle: int
    moment: str  # "during the boot" or one of KILL_MOMENTS
    hit: bool  # the aimed moment came (False: killed at AIM_TIMEOUT_S instead)
    after_s: float
    claimed: int  # runs in flight (claim markers) the kill left behind
    integrity: str


@dataclass
class JobVerdict:
    token: str
    kind: str
    received: int
    runs: dict[str, int]
    verdict: str
    detail: str = ""


@dataclass
class TrialReport:
    seed: int
    kills: list[Kill] = field(default_factory=list)
    verdicts: list[JobVerdict] = field(default_factory=list)
    boot_seconds: list[float] = field(default_factory=list)
    final_integrity: str = ""
    same_slot_twice: list[tuple[str, int]] = field(default_factory=list)
    wall_seconds: float = 0.0

    def count(self, verdict: str, kind: str | None = None) -> int:
        return sum(
            1 for v in self.verdicts if v.verdict == verdict and (kind is None or v.kind == kind)
        )

    @property
    def bad_integrity(self) -> list[Kill]:
        return [k for k in self.kills if k.integrity != "ok"]

    @property
    def failures(self) -> list[str]:
        """Everything the trial must not see: each a sentence."""
        problems = [f"{v.token}: {v.verdict} ({v.detail})" for v in self.verdicts
                    if v.verdict in ("lost", "unexplained duplicate", "unexplained copies",
                                     "undelivered", "pending")]  # fmt: skip
        problems += [f"kill {k.cycle}: integrity {k.integrity}" for k in self.bad_integrity]
        if self.final_integrity != "ok":
            problems.append(f"final integrity: {self.final_integrity}")
        problems += [f"{job} ran slot {slot} twice" for job, slot in self.same_slot_twice]
        return problems

    def summary(self) -> str:
        moments = Counter(k.moment for k in self.kills)
        missed_aim = sum(1 for k in self.kills if not k.hit)
        in_flight = sum(1 for k in self.kills if k.claimed)
        kinds = Counter(v.kind for v in self.verdicts)
        verdicts = Counter((v.kind, v.verdict) for v in self.verdicts)
        boots = sorted(self.boot_seconds)
        lines = [
            f"crash trial (seed {self.seed}): {len(self.kills)} SIGKILLs in "
            f"{self.wall_seconds:.0f} s; {in_flight} left runs in flight "
            f"({sum(k.claimed for k in self.kills)} claim markers in all)",
            "kills aimed: "
            + ", ".join(f"{n} {m}" for m, n in moments.most_common())
            + f" ({missed_aim} fell at the {AIM_TIMEOUT_S:.0f}-s timeout instead)",
            f"database integrity after every kill: "
            f"{len(self.kills) - len(self.bad_integrity)}/{len(self.kills)} ok; "
            f"at the end: {self.final_integrity}",
            f"boots: {len(boots)}, median {statistics.median(boots) if boots else 0:.1f} s",
            "jobs: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())),
        ]
        for (kind, verdict), n in sorted(verdicts.items()):
            lines.append(f"  {kind:9} {verdict:30} {n}")
        told = sum(1 for v in self.verdicts if v.detail == "owner told")
        if paused := self.count("paused after two interruptions"):
            lines.append(f"  paused jobs whose owner got the alert: {told} of {paused}")
        lines.append(f"slots run twice: {len(self.same_slot_twice)}")
        lines.append("failures: " + ("; ".join(self.failures) or "none"))
        return "\n".join(lines)


class CrashTrial:
    """Drives one AstrBot process through ``kills`` random SIGKILLs (see the module doc)."""

    def __init__(self, proc: AstrBotProcess, seed: int, log: Callable[[str], None] = print):
        self.proc = proc
        self.rng = random.Random(seed)
        self.model_rng = random.Random(seed + 1)  # the model answers on the fakes' thread
        self.report = TrialReport(seed=seed)
        self.jobs: list[TrialJob] = []
        self.log = log
        self._tokens = Counter[str]()
        proc.llm.default_reply = self._model_reply
        proc.onebot.ack_delay = ACK_DELAY_S

    # ----- the model --------------------------------------------------------------------

    def _model_reply(self, request: LLMRequest) -> Reply:
        """Answer an agent job with its token; sometimes slowly."""
        match = _TOKEN.search(request.last_user_text)
        token = match[0] if match else "trial-unknown"
        slow = self.model_rng.random() < SLOW_MODEL_CHANCE
        delay = self.model_rng.uniform(*SLOW_MODEL_S) if slow else 0.0
        return Reply(text=f"{token} done", delay=delay)

    # ----- scheduling -------------------------------------------------------------------

    def _token(self, letter: str) -> str:
        self._tokens[letter] += 1
        return f"trial-{letter}{self._tokens[letter]}"

    def schedule(self, kind: str, cycle: int) -> TrialJob:
        letter = {"reminder": "r", "agent": "a", "recurring": "e"}[kind]
        token = self._token(letter)
        if kind == "recurring":
            command = f"/cron add every {RECURRING_EVERY} {token}"
        else:
            flag = " --agent" if kind == "agent" else ""
            command = f"/cron add {self.rng.randint(1, 4)}s{flag} {token}"
        reply = self.proc.say(USER, command, starts="Created")
        match = re.search(r"id: ([a-z0-9]{8})", reply)
        assert match, reply
        job = TrialJob(match[1], token, kind, cycle)
        self.jobs.append(job)
        return job

    # ----- the cycles -------------------------------------------------------------------

    def run(self, kills: int) -> TrialReport:
        began = time.monotonic()
        self.proc.start()
        for kind in ("recurring", "recurring"):
            self.schedule(kind, 0)
        for cycle in range(1, kills + 1):
            self.cycle(cycle)
            if cycle % 10 == 0:
                self.log(f"  {cycle}/{kills} kills, {len(self.jobs)} jobs scheduled")
        settling = time.monotonic()
        self.settle()
        self.log(f"  settled in {time.monotonic() - settling:.0f} s")
        self.report.wall_seconds = time.monotonic() - began
        self.report.boot_seconds = list(self.proc.boot_seconds)
        self.judge()
        return self.report

    def cycle(self, cycle: int) -> None:
        """One start (unless running), some jobs, one SIGKILL aimed at a moment."""
        if not self.proc.running and self.rng.random() < BOOT_KILL_CHANCE:
            self.proc.start(wait=False)
            after = self.rng.uniform(0.5, 6.0)
            time.sleep(after)
            self._kill(cycle, "during the boot", True, after)
            return
        if not self.proc.running:
            self.proc.start()
        mark = self.proc.onebot.mark()
        for _ in range(self.rng.randint(1, 3)):
            self.schedule("reminder", cycle)
        if self.rng.random() < 0.6:
            self.schedule("agent", cycle)
        moment = self.rng.choices(list(KILL_MOMENTS), weights=list(KILL_MOMENTS.values()))[0]
        began = time.monotonic()
        hit = self.aim(moment, mark)
        self._kill(cycle, moment, hit, time.monotonic() - began)

    def aim(self, moment: str, mark: int) -> bool:
        """Wait for ``moment``; False if it did not come within :data:`AIM_TIMEOUT_S`.

        - *before a claim*: at once (the jobs fall due 1–4 s later);
        - *mid-run*: as soon as the database shows a claim marker;
        - *mid-delivery*: as soon as QQ has a trial message, before AstrBot has its
          acknowledgement (a duplicate is expected: nothing could know it went out);
        - *mid-write*: just after that acknowledgement, while the run is being recorded.
        """
        if moment == "at random":
            time.sleep(self.rng.uniform(*RANDOM_KILL_S))
            return True
        if moment == "before a claim":
            return True
        if moment == "mid-run":
            return self._until(lambda: self._claimed() > 0)
        sent = self._until(lambda: self._trial_messages(mark) > 0)
        if sent and moment == "mid-write":
            time.sleep(ACK_DELAY_S + self.rng.uniform(0.0, 0.03))
        return sent

    @staticmethod
    def _until(condition: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + AIM_TIMEOUT_S
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.005)
        return False

    def _trial_messages(self, since: int) -> int:
        return sum(1 for a in self.proc.onebot.sent(since) if self._token_of(a))

    def _claimed(self) -> int:
        return self.proc.query("SELECT COUNT(*) AS n FROM jobs WHERE running_run_id IS NOT NULL")[
            0
        ]["n"]

    def _kill(self, cycle: int, moment: str, hit: bool, after: float) -> None:
        self.proc.kill()
        claimed, integrity = self._db_state()
        self.report.kills.append(Kill(cycle, moment, hit, round(after, 2), claimed, integrity))

    def _db_state(self) -> tuple[int, str]:
        """Claim markers left behind, and the file's integrity (read-only, AstrBot dead)."""
        if not self.proc.db_path.exists():
            return 0, "ok"  # killed before the plugin created its database
        try:
            claimed = self._claimed()
            check = self.proc.query("PRAGMA integrity_check")
            return claimed, ", ".join(str(row[0]) for row in check)
        except sqlite3.Error as exc:
            return 0, f"unreadable: {exc}"

    def settle(self) -> None:
        """Start once more; wait until no one-shot is pending and nothing runs; stop."""
        if not self.proc.running:
            self.proc.start()
        one_shots = [j.id for j in self.jobs if j.kind != "recurring"]
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline and self._busy(one_shots):
            time.sleep(0.2)
        for job in (j for j in self.jobs if j.kind == "recurring"):
            self.proc.say(USER, f"/cron pause {job.id}", starts="Paused")
        time.sleep(ACK_DELAY_S + 1.0)  # a run already under way finishes and is recorded
        self.proc.interrupt()
        self.report.final_integrity = self._db_state()[1]

    def _busy(self, one_shots: Sequence[str]) -> bool:
        marks = ",".join("?" * len(one_shots))
        pending = self.proc.query(
            f"SELECT COUNT(*) AS n FROM jobs WHERE enabled = 1 AND id IN ({marks})",
            tuple(one_shots),
        )[0]["n"]
        return bool(pending or self._claimed())

    # ----- the verdict ------------------------------------------------------------------

    def judge(self) -> None:
        received = Counter(self._token_of(a) for a in self.proc.onebot.sent())
        alerts = [a.text for a in self.proc.onebot.sent() if a.text.startswith("[future tasks]")]
        runs: dict[str, list[dict[str, Any]]] = {}
        for row in self.proc.query("SELECT * FROM runs ORDER BY seq"):
            runs.setdefault(row["job_id"], []).append(dict(row))
        states = {
            row["id"]: json.loads(row["body"])
            for row in self.proc.query("SELECT id, body FROM jobs")
        }
        for job in self.jobs:
            history = runs.get(job.id, [])
            verdict = (judge_recurring if job.kind == "recurring" else judge_one_shot)(
                job, received[job.token], history, states.get(job.id)
            )
            if verdict.verdict == "paused after two interruptions":
                told = any(f"Task {job.id} " in text and "was paused" in text for text in alerts)
                verdict.detail = "owner told" if told else "owner not told (alert cut by a kill)"
            self.report.verdicts.append(verdict)
            slots = Counter(r["slot_at"] for r in history
                            if r["status"] == "ok" and r["trigger"] == "schedule")  # fmt: skip
            self.report.same_slot_twice += [(job.id, s) for s, n in slots.items() if n > 1]

    @staticmethod
    def _token_of(action: Action) -> str | None:
        match = _TOKEN.match(action.text)
        return match[0] if match else None


def _interrupted_undelivered(history: Sequence[dict[str, Any]]) -> int:
    """Runs cut short before their delivery was recorded (the history says ``unknown``)."""
    return sum(1 for r in history if r["status"] == "interrupted" and r["delivery"] == "unknown")


def _run_counts(history: Sequence[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(f"{r['status']}/{r['delivery']}" for r in history))


def judge_one_shot(
    job: TrialJob, received: int, history: Sequence[dict[str, Any]], state: dict[str, Any] | None
) -> JobVerdict:
    """Delivered once; or twice with an interrupted run to explain it; or paused per §6."""
    interrupted = _interrupted_undelivered(history)
    counts = _run_counts(history)

    def verdict(name: str, detail: str = "") -> JobVerdict:
        return JobVerdict(job.token, job.kind, received, counts, name, detail)

    if state is not None and state.get("enabled"):
        return verdict("pending", "still scheduled after the final settle")
    if received == 1:
        return verdict("delivered once")
    if received > 1:
        if received - 1 <= interrupted:
            return verdict("explained duplicate", f"{interrupted} interrupted run(s)")
        return verdict("unexplained duplicate", f"{received} copies, {interrupted} interrupted")
    if state is not None and interrupted >= 2:
        return verdict("paused after two interruptions", str(state.get("last_error", "")))
    return verdict("lost", f"job {'deleted' if state is None else 'disabled'}")


def judge_recurring(
    job: TrialJob, received: int, history: Sequence[dict[str, Any]], state: dict[str, Any] | None
) -> JobVerdict:
    """Every run recorded as delivered reached QQ; extra copies only from interrupted runs."""
    delivered = sum(1 for r in history if r["delivery"] == "delivered")
    interrupted = _interrupted_undelivered(history)
    counts = _run_counts(history)
    detail = f"{received} received, {delivered} recorded delivered, {interrupted} interrupted"
    if received < delivered:
        name = "undelivered"
    elif received > delivered + interrupted:
        name = "unexplained copies"
    elif received > delivered:
        name = "explained copies"
    else:
        name = "every run delivered once"
    return JobVerdict(job.token, job.kind, received, counts, name, detail)


def run_trial(kills: int, seed: int, log: Callable[[str], None] = print) -> TrialReport:
    """A fresh AstrBot home, ``kills`` cycles, the report (the log kept on failure)."""
    with AstrBotProcess(plugin_config=TRIAL_CONFIG) as proc:
        try:
            return CrashTrial(proc, seed, log).run(kills)
        finally:
            proc.dump_log(f"crash-trial-{seed}.log")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 10_000)
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args(argv)
    report = run_trial(args.kills, args.seed)
    print(report.summary())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(asdict(report), f, indent=2)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
