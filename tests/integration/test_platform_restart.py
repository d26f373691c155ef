"""Reminders due while AstrBot was down, on Satori and Misskey: the real ``astrbot run`` as
a subprocess (tests/integration/process.py) with both adapters on their loopback fakes,
which keep running across the restart. After the restart each service holds back its
"connected" answer for a while (Satori's READY signal, Misskey's ``i`` call); nothing may
be sent before it, and each reminder arrives once after it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.integration.fakes.misskey import TO_USER
from tests.integration.fakes.satori import text_of
from tests.integration.peers import MISSKEY_ID, SATORI_ID, MisskeyPeer, SatoriPeer
from tests.integration.process import AstrBotProcess

HELD_S = 4.0
"""How long after the plugin's scheduler started the services stay "not ready"."""


@pytest.fixture(scope="module")
def proc() -> Iterator[AstrBotProcess]:
    process = AstrBotProcess(extra_peers=[SatoriPeer(), MisskeyPeer()])
    try:
        process.start()
        for peer in process.peers.values():
            process.run(peer.wait_ready(30), 40)
        yield process
    finally:
        for peer in process.peers.values():  # release requests a failed test left waiting
            process.loop.loop.call_soon_threadsafe(peer.fake.ready_gate.set)
        process.close()
        process.dump_log("astrbot-platform-restart.log")
        process.cleanup()


def _job_id(call_text: str) -> str:
    match = re.search(r"id: ([a-z0-9]{8})", call_text)
    assert match, call_text
    return match[1]


def _create_reminders(proc: AstrBotProcess) -> tuple[str, str]:
    satori, misskey = proc.peers[SATORI_ID].fake, proc.peers[MISSKEY_ID].fake
    s_mark, m_mark = satori.mark(), misskey.mark()
    proc.run(satori.push_message("3201", "/cron add 3s satori downtime", channel_id="private:3201"))
    proc.run(misskey.push_chat("4201", "/cron add 3s misskey downtime"))
    s_reply = proc.run(satori.wait_for_call(lambda c: "Created" in text_of(c), since=s_mark), 20)
    m_reply = proc.run(
        misskey.wait_for_call(lambda c: "Created" in str(c.body.get("text")), since=m_mark), 20
    )
    return _job_id(text_of(s_reply)), _job_id(str(m_reply.body["text"]))


def _deliveries(proc: AstrBotProcess, job: str) -> list[tuple[str, str]]:
    rows = proc.query("SELECT status, delivery FROM runs WHERE job_id = ? ORDER BY seq", (job,))
    return [(r["status"], r["delivery"]) for r in rows]


def test_reminders_due_during_downtime_arrive_once_after_each_platform_connected(
    proc: AstrBotProcess,
) -> None:
    satori, misskey = proc.peers[SATORI_ID].fake, proc.peers[MISSKEY_ID].fake
    satori_job, misskey_job = _create_reminders(proc)
    proc.stop()
    satori.ready_gate.clear()
    misskey.ready_gate.clear()
    s_mark, m_mark = satori.mark(), misskey.mark()
    time.sleep(4)  # both reminders fall due while AstrBot is down
    proc.start(wait=True)
    time.sleep(HELD_S)
    assert satori.sent(s_mark) == [] and misskey.sent(m_mark) == []  # nothing before ready
    opened = time.monotonic()
    satori.ready_gate.set()
    misskey.ready_gate.set()
    s_call = proc.run(
        satori.wait_for_call(lambda c: "satori downtime" in text_of(c), since=s_mark), 40
    )
    m_call = proc.run(
        misskey.wait_for_call(lambda c: "misskey downtime" in str(c.body.get("text")),
                              since=m_mark, timeout=40), 45)  # fmt: skip
    assert s_call.monotonic >= opened and m_call.monotonic >= opened
    assert m_call.path == TO_USER and s_call.body["channel_id"] == "private:3201"
    time.sleep(1)
    assert len([c for c in satori.sent(s_mark) if "satori downtime" in text_of(c)]) == 1
    assert len([c for c in misskey.sent(m_mark) if "misskey downtime" in str(c.body)]) == 1
    assert _deliveries(proc, satori_job) == [("ok", "delivered")]
    assert _deliveries(proc, misskey_job) == [("ok", "delivered")]
