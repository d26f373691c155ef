"""Creating a task on the page without knowing session strings, and moving AstrBot's own
future tasks here (issue 14), in a real browser inside the real dashboard: the chats the
bot knows are offered and searchable, the "when" field shows the next runs before saving,
and when AstrBot's own scheduler has tasks the page says so and imports them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_page import Api, Page, page, wait_for  # noqa: F401  (the fixture)
from tests.integration.harness import AstrBot

pytestmark = pytest.mark.timeout(300)

GROUP_SESSION = "onebot:GroupMessage:8801"
CORE_SESSION = "onebot:FriendMessage:8802"
WEEKDAYS_9 = "0 9 * * mon-fri"


def _known_group_and_a_core_task(astrbot: AstrBot) -> Any:
    """A group chat AstrBot has a titled conversation with, and one of AstrBot's own
    future tasks (its proactive feature is on by default)."""

    async def prepare() -> Any:
        manager = astrbot.context.conversation_manager
        cid = await manager.new_conversation(GROUP_SESSION, platform_id="onebot")
        await manager.update_conversation_title(
            GROUP_SESSION, "Release planning", conversation_id=cid
        )
        return await astrbot.context.cron_manager.add_active_job(
            name="core standup",
            cron_expression="0 9 * * 1",
            timezone="Asia/Shanghai",
            payload={"session": CORE_SESSION, "sender_id": "8802", "note": "standup time"},
        )

    return astrbot.run(prepare())


def test_a_task_is_made_by_picking_a_known_chat_and_core_tasks_are_imported(
    page: Page,  # noqa: F811
    astrbot: AstrBot,
    artifacts: Path,
) -> None:
    token = page.login()
    api = Api(astrbot.dashboard_url, token)
    core = _known_group_and_a_core_task(astrbot)
    page.open()

    # -- two schedulers: the page says so
    wait_for(lambda: page.visible("#core-notice"), 15, "the two-schedulers notice")
    assert "Two schedulers are active" in page.text("#core-notice-text")

    # -- the chat picker: search by name, pick, the session is filled in
    page.click("#new-btn")
    wait_for(lambda: page.visible(".chat-option"), 15, "the known chats")
    page.css("#chat-search").send_keys("release")
    option = f".chat-option[data-session='{GROUP_SESSION}']"

    def only_the_group() -> bool:
        sessions = page.js(
            "return [...document.querySelectorAll('.chat-option')].map(b => b.dataset.session)"
        )
        return sessions == [GROUP_SESSION]

    wait_for(only_the_group, 15, "the search to narrow the chats")
    assert "Release planning" in page.text(option) and "group" in page.text(option)
    page.click(option)
    session = page.js("return document.querySelector(\"#job-form [name='session']\").value")
    assert session == GROUP_SESSION

    # -- the "when" field previews the next runs, as the service reads them
    name = f"Checklist {int(time.time()) % 100000}"
    page.fill("name", name)
    page.select("mode", "reminder")
    page.fill("message", "Post the release checklist")
    page.select("kind", "cron")
    page.fill("tz", "Asia/Shanghai")
    page.fill("when", "61 * * * *")
    wait_for(
        lambda: "error" in (page.css("#when-preview").get_attribute("class") or ""),
        15,
        "the parser's refusal before saving",
    )
    status, refused = api.call("GET", "/preview?cron=61%20*%20*%20*%20*")
    assert status == 400 and page.text("#when-preview") == refused["error"]
    page.fill("when", WEEKDAYS_9)
    status, preview = api.call("GET", "/preview?cron=0%209%20*%20*%20mon-fri&tz=Asia/Shanghai")
    assert status == 200, preview
    first = preview["runs"][0]["local"][:16]  # "2026-01-12 09:00"
    wait_for(
        lambda: (
            page.text("#when-preview").startswith("Next runs:")
            and page.text("#when-preview").count("09:00") == 3
            and first in page.text("#when-preview")
        ),
        15,
        "the next three runs",
    )
    page.screenshot("create-form-chat-picker-light")
    page.click("#form-submit")
    wait_for(lambda: not page.visible("#form-overlay"), 15, "the form to close")
    job = wait_for(lambda: api.find(name), 10, "the task in the API")[0]
    assert job["owner"]["origin"] == GROUP_SESSION
    assert job["schedule"]["expr"] == WEEKDAYS_9

    # -- import AstrBot's own tasks from the notice
    page.click("#import-core-btn")
    text = page.confirm()
    assert "core standup" in text, text
    imported = wait_for(lambda: api.find("core standup"), 15, "the imported task")[0]
    assert imported["mode"] == "isolated" and imported["owner"]["origin"] == CORE_SESSION
    wait_for(lambda: "Imported 1 of 1" in page.toasts(), 10, "the import's notice")
    wait_for(lambda: not page.visible("#core-notice"), 15, "the notice to go")
    after = astrbot.run(astrbot.context.cron_manager.db.get_cron_job(core.job_id))
    assert after is not None and after.enabled is False  # disabled there, not deleted
    astrbot.run(astrbot.context.cron_manager.delete_job(core.job_id))
    assert not page.console_errors()
