"""/cron in the real AstrBot, as a QQ user would type it over OneBot v11."""

from __future__ import annotations

import re
import time

from tests.integration.harness import AstrBot

USER_A, USER_B = 5101, 5102


def _say(
    astrbot: AstrBot,
    user: int,
    text: str,
    *,
    group: int | None = None,
    since: int,
    starts: str = "",
) -> str:
    """Send a message and return the bot's reply in that chat (the first that starts with
    ``starts``, when a scheduled message may arrive first)."""
    if group is None:
        astrbot.run(astrbot.onebot.send_private_message(user, text))
        name, target = "send_private_msg", user
    else:
        astrbot.run(astrbot.onebot.send_group_message(group, user, text))
        name, target = "send_group_msg", group
    action = astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.name == name and a.target == target and a.text.startswith(starts),
            timeout=15,
            since=since,
        )
    )
    return action.text


def _job_id(reply: str) -> str:
    match = re.search(r"id: ([a-z0-9]{8})", reply)
    assert match, reply
    return match[1]


def _wait_text(astrbot: AstrBot, text: str, since: int, timeout: float = 15):
    return astrbot.run(
        astrbot.onebot.wait_for_action(lambda a: a.text == text, timeout=timeout, since=since)
    )


def test_add_in_a_private_chat_arrives_once_about_3s_later(astrbot: AstrBot) -> None:
    mark = astrbot.onebot.mark()
    reply = _say(astrbot, USER_A, "/cron add 3s hello there", since=mark)
    assert "id: " in reply and "next run:" in reply and "(Asia/Shanghai)" in reply, reply
    created = time.monotonic()
    arrived = _wait_text(astrbot, "hello there", mark)
    assert 2.0 <= arrived.monotonic - created <= 5.0
    assert arrived.name == "send_private_msg" and arrived.target == USER_A
    time.sleep(1.0)
    assert [a.text for a in astrbot.onebot.sent(mark)].count("hello there") == 1


def test_add_in_a_group_arrives_in_the_group(astrbot: AstrBot) -> None:
    mark = astrbot.onebot.mark()
    reply = _say(astrbot, USER_A, "/cron add 2s group ping", group=8801, since=mark)
    assert "id: " in reply, reply
    arrived = _wait_text(astrbot, "group ping", mark)
    assert arrived.name == "send_group_msg" and arrived.target == 8801


def test_list_show_pause_resume_runs_and_rm(astrbot: AstrBot) -> None:
    mark = astrbot.onebot.mark()
    job = _job_id(
        _say(astrbot, USER_A, '/cron add "0 7 * * mon-fri" --name standup Standup!', since=mark)
    )
    mark = astrbot.onebot.mark()
    listing = _say(astrbot, USER_A, "/cron list", since=mark)
    lines = listing.splitlines()
    assert any(line.startswith(f"{job} |") for line in lines), listing
    assert all(re.match(r"^[a-z0-9]{8} \|", line) for line in lines), listing
    mark = astrbot.onebot.mark()
    shown = _say(astrbot, USER_A, f"/cron show {job}", since=mark)
    assert "cron 0 7 * * mon-fri (Asia/Shanghai)" in shown and "standup" in shown
    mark = astrbot.onebot.mark()
    assert "Paused" in _say(astrbot, USER_A, f"/cron pause {job}", since=mark)
    mark = astrbot.onebot.mark()
    resumed = _say(astrbot, USER_A, f"/cron resume {job}", since=mark)
    assert "next run: " in resumed and "07:00:00 CST (Asia/Shanghai)" in resumed
    mark = astrbot.onebot.mark()
    _say(astrbot, USER_A, f"/cron run {job}", since=mark, starts="Started a run")
    _wait_text(astrbot, "Standup!", mark)
    time.sleep(0.5)
    mark = astrbot.onebot.mark()
    runs = _say(astrbot, USER_A, f"/cron runs {job}", since=mark)
    assert "| manual | ok | delivered" in runs, runs
    mark = astrbot.onebot.mark()
    assert f"Deleted {job}" in _say(astrbot, USER_A, f"/cron rm {job}", since=mark)
    mark = astrbot.onebot.mark()
    assert job not in _say(astrbot, USER_A, "/cron list", since=mark)


def test_user_b_can_not_touch_user_as_job(astrbot: AstrBot) -> None:
    mark = astrbot.onebot.mark()
    job = _job_id(_say(astrbot, USER_A, "/cron add every 2h drink water", since=mark))
    for verb in ("show", "rm", "pause", "run", "runs"):
        mark = astrbot.onebot.mark()
        reply = _say(astrbot, USER_B, f"/cron {verb} {job}", since=mark)
        assert reply.startswith("Error: no task with id"), (verb, reply)
    mark = astrbot.onebot.mark()
    reply = _say(astrbot, USER_B, f"/cron edit {job} --text hijacked", since=mark)
    assert reply.startswith("Error: no task with id")
    mark = astrbot.onebot.mark()
    assert job not in _say(astrbot, USER_B, "/cron list", since=mark)
    mark = astrbot.onebot.mark()
    assert job in _say(astrbot, USER_A, "/cron list", since=mark)
    mark = astrbot.onebot.mark()
    assert "Error: only admins" in _say(astrbot, USER_B, "/cron list all", since=mark)
    admin = int(astrbot.admin_id)
    mark = astrbot.onebot.mark()
    assert job in _say(astrbot, admin, "/cron list all", since=mark)
    mark = astrbot.onebot.mark()
    assert f"Deleted {job}" in _say(astrbot, USER_A, f"/cron rm {job}", since=mark)


def test_errors_say_what_was_wrong_and_show_the_form(astrbot: AstrBot) -> None:
    cases = {
        "/cron add soonish hello": "cannot read the time",
        "/cron add 20m": "the text is missing",
        '/cron add "0 0 31 2 *" never': "never fires",
        "/cron add 20m hi --tz Mars/Base": "unknown time zone",
        "/cron add every 10s spam": "more often than the minimum",
        "/cron frobnicate": "unknown subcommand",
        "/cron rm": "which task?",
    }
    for text, expected in cases.items():
        mark = astrbot.onebot.mark()
        reply = _say(astrbot, USER_A, text, since=mark)
        assert reply.startswith("Error:") and expected in reply, (text, reply)
    mark = astrbot.onebot.mark()
    assert "/cron add <when> <text>" in _say(astrbot, USER_A, "/cron help", since=mark)


def test_status(astrbot: AstrBot) -> None:
    admin = int(astrbot.admin_id)
    mark = astrbot.onebot.mark()
    status = _say(astrbot, admin, "/cron status", since=mark)
    assert "scheduler: on" in status and "database: " in status and "tasks: " in status
    mark = astrbot.onebot.mark()
    mine = _say(astrbot, USER_A, "/cron status", since=mark)
    assert "scheduler: on" in mine and "your tasks here: " in mine and "database" not in mine


def test_a_task_whose_row_no_longer_loads_is_set_aside_and_shown_in_status(
    astrbot: AstrBot,
) -> None:
    """SPEC §6 "one job never stops the others", under the real AstrBot: the row is damaged
    as a hand edit would damage it; the other task fires on time, the owner is told once,
    and /cron status lists the task set aside with its reason."""
    mark = astrbot.onebot.mark()
    broken = _job_id(_say(astrbot, USER_B, "/cron add 5s broken one", since=mark))
    store = astrbot.plugin.service.store
    astrbot.run(
        store.db.execute(
            "UPDATE jobs SET body=json_set(body, '$.schedule.kind', 'weekly') WHERE id=?",
            (broken,),
        )
    )
    _say(astrbot, USER_B, "/cron add 3s still here", since=mark, starts="Created")
    _wait_text(astrbot, "still here", mark)
    notice = astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.target == USER_B and "was set aside" in a.text, timeout=15, since=mark
        )
    )
    assert broken in notice.text, notice.text
    status = _say(astrbot, USER_B, "/cron status", since=astrbot.onebot.mark())
    assert f"set aside: {broken}: job {broken} is stored in a form that cannot be read" in status
    assert not [a for a in astrbot.onebot.sent(mark) if a.text == "broken one"]
