"""50 SIGKILLs of the real AstrBot at random moments (see
:mod:`tests.integration.crash_trials`): no reminder lost, no unexplained duplicate, no
slot run twice, and the database intact after every kill."""

from __future__ import annotations

import os

import pytest

from tests.integration.crash_trials import run_trial

KILLS = int(os.environ.get("CRASH_TRIAL_KILLS", "50"))
SEED = int(os.environ.get("CRASH_TRIAL_SEED", "2026"))


@pytest.mark.timeout(900)  # 50 boots and kills take about 5 minutes; the default is 300 s
def test_fifty_random_kills_lose_nothing_and_repeat_nothing_unexplained() -> None:
    report = run_trial(KILLS, SEED)
    print(report.summary())
    assert len(report.kills) == KILLS
    assert report.failures == [], report.summary()
    one_shots = [v for v in report.verdicts if v.kind != "recurring"]
    assert len(one_shots) >= KILLS, report.summary()  # the trial did schedule work
    assert sum(k.claimed for k in report.kills) > 0, "no kill ever landed mid-run"
    # Not degenerate: most jobs go through untouched (50 kills, seed 2026: 107 of 124).
    assert report.count("delivered once") >= len(one_shots) * 0.6, report.summary()
