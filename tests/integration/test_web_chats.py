"""The page's helpers for creating a task without session strings (issue 14): the chats
the bot knows, searchable, and a preview of a schedule's next runs."""

from __future__ import annotations

import itertools
import time
from urllib.parse import quote

from tests.integration.harness import AstrBot
from tests.integration.test_cron_commands import _say
from tests.integration.test_web_api import Dashboard, web  # noqa: F401  (the fixture)

USER = 5401
GROUP = 7401


def test_the_chats_the_bot_knows_are_offered_and_searchable(
    astrbot: AstrBot,
    web: Dashboard,  # noqa: F811
) -> None:
    async def talked() -> None:
        manager = astrbot.context.conversation_manager
        cid = await manager.new_conversation(astrbot.umo(GROUP, group=True), platform_id="onebot")
        await manager.update_conversation_title(
            astrbot.umo(GROUP, group=True), "Release planning", conversation_id=cid
        )

    astrbot.run(talked())
    _say(astrbot, USER, "/cron list", since=astrbot.onebot.mark())  # a route the plugin sees

    chats = {c["session"]: c for c in web.get("/chats").body["chats"]}
    group = chats[astrbot.umo(GROUP, group=True)]
    assert group["kind"] == "group" and group["chat_id"] == str(GROUP)
    assert group["platform"] == "onebot" and group["platform_type"] == "aiocqhttp"
    assert "Release planning" in group["names"] and "conversation" in group["sources"]
    assert astrbot.umo(USER) in chats

    found = web.get("/chats?q=" + quote("release PLANNING")).body["chats"]
    assert [c["session"] for c in found] == [astrbot.umo(GROUP, group=True)]
    assert [c["session"] for c in web.get(f"/chats?q={USER}").body["chats"]] == [astrbot.umo(USER)]
    assert web.get("/chats?q=aiocqhttp").body["chats"]
    assert web.get("/chats?q=telegram%20" + str(GROUP)).body["chats"] == []


def test_a_schedule_preview_shows_the_next_three_runs(web: Dashboard) -> None:  # noqa: F811
    cron = web.get("/preview?cron=" + quote("0 9 * * mon-fri") + "&tz=Asia/Shanghai")
    assert cron.status == 200, cron
    assert cron.body["kind"] == "cron" and cron.body["tz"] == "Asia/Shanghai"
    runs = cron.body["runs"]
    assert len(runs) == 3 and runs[0]["at"] < runs[1]["at"] < runs[2]["at"]
    assert all(" 09:00:00 " in r["local"] for r in runs), runs

    once = web.get("/preview?run_at=20m").body
    assert once["kind"] == "at" and len(once["runs"]) == 1
    assert abs(once["runs"][0]["at"] - (time.time() + 1200) * 1000) < 60_000

    every = web.get("/preview?every=2h").body["runs"]
    assert [b["at"] - a["at"] for a, b in itertools.pairwise(every)] == [7_200_000] * 2

    bad = web.get("/preview?cron=" + quote("99 * * * *"))
    assert bad.status == 400 and bad.body["error"], bad
    nothing = web.get("/preview")
    assert nothing.status == 400 and "give exactly one of" in nothing.body["error"]
