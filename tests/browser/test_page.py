"""The Future Tasks WebUI page in a real browser, inside the real AstrBot dashboard.

Logs in through the dashboard's login form, opens the plugin page (a sandboxed iframe
talking to the web API through the dashboard bridge), and walks a task through its life:
create (a reminder every 1h to a OneBot chat), see it in the table, a refused create with
the API's message shown, edit, pause, resume, run now (the reminder reaches the fake
OneBot client and the run shows up in the history), delete. Every step is checked in the
page and through the web API. Screenshots (light, dark, narrow, Chinese) go to
``.test-artifacts/browser/``; with ``FUTURE_TASKS_UPDATE_DOCS_SCREENSHOT=1`` the wide
light one is also copied to ``docs/future-tasks-page.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import PLUGIN_NAME, REPO_ROOT, AstrBot

pytestmark = pytest.mark.timeout(300)

API = f"/api/v1/plugins/extensions/{PLUGIN_NAME}"
PAGE_ROUTE = f"/#/plugin-view/{PLUGIN_NAME}/future-tasks"
QQ_USER = 424242
SESSION = f"onebot:FriendMessage:{QQ_USER}"
NARROW = (420, 1000)
NEW_PASSWORD = "FutureTasksPage2026"
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "future-tasks-page.png"


# ----- helpers --------------------------------------------------------------------------------


def wait_for[T](check: Callable[[], T], timeout: float = 15.0, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; stale DOM nodes count as not yet."""
    from selenium.common.exceptions import (
        JavascriptException,
        NoSuchElementException,
        StaleElementReferenceException,
    )

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except (StaleElementReferenceException, NoSuchElementException, JavascriptException) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(0.1)


class Api:
    """The web API over HTTP with the dashboard token the browser got at login."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + API + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def job(self, job_id: str) -> tuple[int, Any]:
        return self.call("GET", f"/jobs/{job_id}")

    def find(self, name: str) -> list[dict[str, Any]]:
        status, body = self.call("GET", "/jobs?limit=200")
        assert status == 200, body
        return [j for j in body["jobs"] if j["name"] == name]


class Page:
    """The dashboard in Chromium, with the plugin page's iframe as the working frame."""

    def __init__(self, driver: Any, bot: AstrBot, shots: Path) -> None:
        self.d = driver
        self.bot = bot
        self.shots = shots
        self.url = bot.dashboard_url

    # dashboard level

    def set_prefs(self, *, locale: str, theme: str) -> None:
        self.d.switch_to.default_content()
        self.d.execute_script(
            "localStorage.setItem('astrbot-locale', arguments[0]);"
            "localStorage.setItem('themeMode', arguments[1]);"
            "localStorage.setItem('uiTheme', arguments[1] === 'dark' ? 'PurpleThemeDark' : 'PurpleTheme');",
            locale,
            theme,
        )

    def login(self) -> str:
        """The login form; then the first-login setup the dashboard asks for (the harness
        boots with an initial password, which AstrBot wants changed), so no "change your
        password" dialog covers the page. Returns the dashboard token."""
        from selenium.webdriver.common.by import By

        d = self.d
        d.get(self.url + "/#/auth/login")
        self.set_prefs(locale="en-US", theme="light")
        token = d.execute_script("return localStorage.getItem('token')")
        if token:  # logged in by an earlier test of this browser session
            return str(token)
        d.refresh()
        user = wait_for(
            lambda: d.find_element(By.CSS_SELECTOR, "input[autocomplete='username']"),
            30,
            "the login form",
        )
        password = d.find_element(By.CSS_SELECTOR, "input[type='password']")
        user.clear()
        user.send_keys(self.bot.dashboard_user)
        password.clear()
        password.send_keys(self.bot.dashboard_password)
        d.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
        wait_for(lambda: d.execute_script("return localStorage.getItem('token')"), 20, "the login")
        wait_for(lambda: "/auth/login" not in d.current_url, 20, "leaving the login page")
        if "/auth/setup" in d.current_url:
            fields = wait_for(
                lambda: d.find_elements(By.CSS_SELECTOR, "input[type='password']"),
                20,
                "the setup form",
            )
            assert len(fields) == 2, "setup form: expected a password and its confirmation"
            for field in fields:
                field.send_keys(NEW_PASSWORD)
            d.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
            wait_for(lambda: "/auth/setup" not in d.current_url, 20, "the end of the setup")
        return str(
            wait_for(lambda: d.execute_script("return localStorage.getItem('token')"), 20, "token")
        )

    def open(self) -> None:
        """(Re)load the dashboard on the plugin page and enter its iframe."""
        from selenium.webdriver.common.by import By

        d = self.d
        d.switch_to.default_content()
        d.get(self.url + PAGE_ROUTE)
        d.refresh()  # a full load, so locale and theme come from localStorage
        frame = wait_for(
            lambda: d.find_element(By.CSS_SELECTOR, "iframe.plugin-view-frame"),
            30,
            "the plugin page iframe",
        )
        d.switch_to.frame(frame)
        wait_for(
            lambda: (
                self.js("return document.querySelector('#status-dot')?.className || ''")
                in ("dot on", "dot off")
            ),
            30,
            "the page's first load (status bar)",
        )

    def screenshot(self, name: str, *, clean: bool = True) -> Path:
        """Save what the browser shows; ``clean`` first drops the page's toasts."""
        if clean:
            self.js("const box = document.getElementById('toasts'); if (box) box.innerHTML = '';")
        path = self.shots / f"{name}.png"
        self.d.save_screenshot(str(path))
        return path

    # page level (inside the iframe)

    def js(self, script: str, *args: Any) -> Any:
        return self.d.execute_script(script, *args)

    def css(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.d.find_element(By.CSS_SELECTOR, selector)

    def visible(self, selector: str) -> bool:
        return bool(
            self.js(
                "const el = document.querySelector(arguments[0]);"
                "return !!el && !el.closest('[hidden]') && el.getClientRects().length > 0;",
                selector,
            )
        )

    def text(self, selector: str) -> str:
        return str(
            self.js("return document.querySelector(arguments[0])?.innerText || ''", selector)
        )

    def row(self, job_id: str) -> str:
        return f"tr.job-row[data-id='{job_id}']"

    def row_state(self, job_id: str) -> str:
        """ "active" or "paused" (the row's class), "" without such a row."""
        script = "return document.querySelector(arguments[0])?.className || ''"
        classes = str(self.js(script, self.row(job_id))).split()
        return next((state for state in ("active", "paused") if state in classes), "")

    def switch_on(self, job_id: str) -> bool:
        script = "return !!document.querySelector(arguments[0])?.checked"
        return bool(self.js(script, f"{self.row(job_id)} input[data-action='toggle']"))

    def row_text(self, job_id: str) -> str:
        return self.text(self.row(job_id))

    def click(self, selector: str) -> None:
        wait_for(lambda: self.visible(selector), 10, f"{selector} to show")
        wait_for(lambda: self.css(selector).is_enabled(), 10, f"{selector} to be enabled")

        def attempt() -> bool:
            self.css(selector).click()
            return True

        wait_for(attempt, 10, f"a click on {selector}")

    def action(self, job_id: str, action: str) -> None:
        self.click(f"{self.row(job_id)} button[data-action='{action}']")

    def fill(self, name: str, value: str) -> None:
        el = self.css(f"#job-form [name='{name}']")
        el.clear()
        el.send_keys(value)

    def select(self, name: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.css(f"#job-form select[name='{name}']")).select_by_value(value)

    def confirm(self) -> str:
        wait_for(lambda: self.visible("#confirm-overlay"), 10, "the confirmation dialog")
        text = self.text("#confirm-overlay")
        self.click("#confirm-ok")
        wait_for(lambda: not self.visible("#confirm-overlay"), 10, "the dialog to close")
        return text

    def toasts(self) -> str:
        return self.text("#toasts")

    def console_errors(self) -> list[str]:
        try:
            entries = self.d.get_log("browser")
        except Exception:  # not every driver keeps the console log
            return []
        return [
            e["message"]
            for e in entries
            if e.get("level") == "SEVERE"
            and ("app.js" in e["message"] or "future-tasks" in e["message"])
        ]


# ----- the test -------------------------------------------------------------------------------


@pytest.fixture
def page(driver: Any, astrbot: AstrBot, artifacts: Path) -> Page:
    return Page(driver, astrbot, artifacts)


def _seed(api: Api) -> list[str]:
    """A few other tasks, so the table (and its screenshots) shows the kinds of task."""
    bodies = [
        {
            "session": "onebot:GroupMessage:777",
            "name": "Weekly summary",
            "mode": "isolated",
            "message": "Summarize this week's discussion in five bullet points.",
            "cron": "0 17 * * fri",
            "tz": "Asia/Shanghai",
        },
        {
            "session": "tg:FriendMessage:20001",
            "name": "Standup",
            "mode": "main",
            "message": "Remind the team about the standup and ask what is blocked.",
            "cron": "30 9 * * mon-fri",
            "tz": "Europe/Berlin",
        },
        {
            "session": "onebot:FriendMessage:10001",
            "message": "Take the laundry out",
            "run_at": "2h",
        },
    ]
    ids = []
    for body in bodies:
        status, reply = api.call("POST", "/jobs", body)
        assert status == 201, reply
        ids.append(reply["job"]["id"])
    status, reply = api.call("POST", f"/jobs/{ids[1]}", {"_method": "PATCH", "enabled": False})
    assert status == 200, reply
    return ids


def test_page_manages_a_task_end_to_end(page: Page, astrbot: AstrBot, artifacts: Path) -> None:
    started = time.monotonic()
    token = page.login()
    api = Api(astrbot.dashboard_url, token)
    seeded = _seed(api)
    page.open()

    # -- status bar
    wait_for(lambda: page.text("#status-state") == "Scheduler on", 10, "'Scheduler on'")
    assert "3 in all" in page.text("#status-counts"), page.text("#status-counts")
    assert page.text("#status-db").endswith("future_tasks.db")
    assert page.text("h1") == "Scheduled Tasks"
    for job_id in seeded:
        assert page.visible(page.row(job_id))
    # schedules in words (and as written)
    assert "Fri at 17:00" in page.text(f"{page.row(seeded[0])} .cell-schedule")
    assert "Mon–Fri at 09:30" in page.text(f"{page.row(seeded[1])} .cell-schedule")
    assert "Europe/Berlin" in page.text(f"{page.row(seeded[1])} .cell-schedule")
    assert "once, " in page.text(f"{page.row(seeded[2])} .cell-schedule")

    # -- create: a reminder every 1h to a OneBot chat
    name = f"Drink water {int(time.time()) % 100000}"
    message = f"Time to drink some water ({name})"
    page.click("#new-btn")
    wait_for(lambda: page.visible("#job-form"), 10, "the create form")
    assert not page.visible("#field-origin") and page.visible("#field-session")
    page.fill("session", SESSION)
    page.fill("name", name)
    page.select("mode", "reminder")
    page.fill("message", message)
    page.select("kind", "every")
    page.fill("when", "1h")
    page.screenshot("create-form-light")
    page.click("#form-submit")
    wait_for(lambda: not page.visible("#form-overlay"), 15, "the form to close")
    jobs = wait_for(lambda: api.find(name), 10, "the job in the API")
    assert len(jobs) == 1
    job = jobs[0]
    job_id = job["id"]
    assert job["mode"] == "reminder" and job["enabled"] is True
    assert job["schedule"]["kind"] == "every" and job["schedule"]["every_ms"] == 3_600_000
    assert job["owner"]["origin"] == SESSION
    assert job["message"] == message
    assert f"Created {name} ({job_id})" in page.toasts(), page.toasts()
    wait_for(lambda: page.visible(page.row(job_id)), 10, "the new row")
    row = page.row_text(job_id)
    for part in (name, job_id, SESSION, "Reminder", "every hour", "every 1h"):
        assert part in row, (part, row)
    next_local = job["next_run_local"].rsplit(" (", 1)[0]  # "2026-01-12 18:00:00 CST"
    next_local = next_local[:16] + next_local[19:]  # shown without the seconds
    assert next_local in row, (next_local, row)
    assert page.switch_on(job_id)

    # -- a refused create shows the API's own message, and the form stays open
    page.click("#new-btn")
    page.fill("session", SESSION)
    page.fill("message", "never")
    page.select("kind", "cron")
    page.fill("when", "61 * * * *")
    page.click("#form-submit")
    wait_for(lambda: page.visible("#form-error"), 15, "the form's error message")
    status, refused = api.call(
        "POST",
        "/jobs",
        {"session": SESSION, "message": "never", "mode": "reminder", "cron": "61 * * * *"},
    )
    assert status == 400, refused
    assert page.text("#form-error") == refused["error"], (page.text("#form-error"), refused)
    page.screenshot("create-form-error-light")
    page.click("#job-form button.icon-btn[data-close]")
    wait_for(lambda: not page.visible("#form-overlay"), 10, "the form to close")
    assert not [j for j in api.call("GET", "/jobs?q=never")[1]["jobs"] if j["message"] == "never"]

    # -- filters and search
    page.click("#filter button[data-filter='false']")  # paused only
    wait_for(lambda: not page.visible(page.row(job_id)), 10, "the active task to be filtered out")
    assert page.visible(page.row(seeded[1]))
    page.click("#filter button[data-filter='all']")
    wait_for(lambda: page.visible(page.row(job_id)), 10, "all tasks again")
    from selenium.webdriver.common.keys import Keys

    search = page.css("#search")
    search.send_keys("drink water")
    wait_for(lambda: not page.visible(page.row(seeded[0])), 10, "the search to narrow the list")
    assert page.visible(page.row(job_id))
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.BACKSPACE)  # (clear() fires no input event)
    wait_for(lambda: page.visible(page.row(seeded[0])), 10, "the full list again")

    # -- edit: every 1h -> every 2h
    page.action(job_id, "edit")
    wait_for(lambda: page.visible("#job-form"), 10, "the edit form")
    assert page.visible("#field-origin") and page.text("#origin-text") == SESSION
    assert page.css("#job-form [name='when']").get_attribute("value") == "1h"
    page.fill("when", "2h")
    page.click("#form-submit")
    wait_for(lambda: not page.visible("#form-overlay"), 15, "the edit form to close")
    wait_for(lambda: api.job(job_id)[1]["job"]["schedule"]["every_ms"] == 7_200_000, 10, "the edit")
    wait_for(lambda: "every 2 hours" in page.row_text(job_id), 10, "the edited schedule in words")
    assert f"Saved {name}" in page.toasts()

    # -- pause, then resume
    page.action(job_id, "toggle-btn")
    wait_for(lambda: api.job(job_id)[1]["job"]["enabled"] is False, 10, "the pause")
    wait_for(lambda: page.row_state(job_id) == "paused", 10, "a paused row")
    assert "paused" in page.text(f"{page.row(job_id)} .cell-next")
    assert not page.switch_on(job_id)
    assert f"Paused {name}" in page.toasts()
    page.action(job_id, "toggle-btn")
    wait_for(lambda: api.job(job_id)[1]["job"]["enabled"] is True, 10, "the resume")
    wait_for(lambda: page.row_state(job_id) == "active", 10, "an active row")
    assert f"Resumed {name}" in page.toasts()

    # -- the switch pauses too
    page.click(f"{page.row(job_id)} .switch .track")
    wait_for(lambda: api.job(job_id)[1]["job"]["enabled"] is False, 10, "the switch to pause")
    page.click(f"{page.row(job_id)} .switch .track")
    wait_for(lambda: api.job(job_id)[1]["job"]["enabled"] is True, 10, "the switch to resume")
    wait_for(lambda: page.row_state(job_id) == "active", 10, "an active row")
    next_before = api.job(job_id)[1]["job"]["next_run_at"]

    # -- run now: confirmation, the message reaches OneBot, the run is in the history
    mark = astrbot.onebot.mark()
    page.action(job_id, "run")
    wait_for(lambda: page.visible("#confirm-overlay"), 10, "the run-now confirmation")
    page.screenshot("confirm-run-light", clean=False)
    confirm_text = page.confirm()
    assert SESSION in confirm_text and "schedule does not move" in confirm_text, confirm_text
    action = astrbot.run(
        astrbot.onebot.wait_for_action(
            lambda a: a.name == "send_private_msg" and a.text == message, timeout=15, since=mark
        ),
        timeout=20,
    )
    assert action.params["user_id"] == QQ_USER
    history = f"tr.detail-row[data-detail='{job_id}']"
    wait_for(
        lambda: page.visible(f"{history} tr.run-row[data-status='ok']"), 15, "the run in history"
    )
    run_text = page.text(f"{history} tr.run-row")
    assert "run now" in run_text and "ok" in run_text and "delivered" in run_text, run_text
    status, runs = api.call("GET", f"/jobs/{job_id}/runs")
    assert status == 200 and runs["total"] == 1, runs
    assert runs["runs"][0]["trigger"] == "manual" and runs["runs"][0]["status"] == "ok"
    after = api.job(job_id)[1]["job"]
    assert after["next_run_at"] == next_before  # run now does not move the schedule
    wait_for(lambda: "delivered" in page.text(f"{page.row(job_id)} .cell-last"), 10, "last run")

    # -- screenshots: light and dark, wide and narrow, English and Chinese
    time.sleep(0.3)
    light = page.screenshot("page-light-wide")
    page.set_prefs(locale="en-US", theme="dark")
    page.open()
    assert page.js("return document.documentElement.dataset.theme") == "dark"
    bg = page.js("return getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(26, 26, 26)", bg
    page.action(job_id, "history")
    wait_for(lambda: page.visible(f"{history} tr.run-row"), 10, "the history (dark)")
    page.screenshot("page-dark-wide")

    page.d.set_window_size(*NARROW)
    page.d.switch_to.default_content()
    page.d.refresh()
    page.open()
    wait_for(lambda: page.visible(page.row(job_id)), 10, "the row (narrow)")
    assert (
        page.js("return getComputedStyle(document.querySelector('#jobs thead')).display") == "none"
    )
    assert (
        page.js(f'return getComputedStyle(document.querySelector("{page.row(job_id)}")).display')
        == "grid"
    )
    page.screenshot("page-dark-narrow")
    page.set_prefs(locale="en-US", theme="light")
    page.open()
    page.screenshot("page-light-narrow")

    page.d.set_window_size(1440, 960)
    page.set_prefs(locale="zh-CN", theme="dark")
    page.open()
    wait_for(lambda: page.text("h1") == "定时任务", 10, "the Chinese page")
    assert page.text("#status-state") == "调度器运行中"
    assert "提醒" in page.row_text(job_id)
    page.screenshot("page-dark-zh-CN")
    page.set_prefs(locale="en-US", theme="light")
    page.open()

    # -- delete, with confirmation; gone from the page and the API
    page.action(job_id, "delete")
    text = page.confirm()
    assert job_id in text and "deleted for good" in text, text
    wait_for(lambda: not page.visible(page.row(job_id)), 10, "the row to go")
    assert f"Deleted {name}" in page.toasts()
    status, body = api.job(job_id)
    assert status == 404, body
    assert api.find(name) == []

    assert page.console_errors() == []
    if os.environ.get("FUTURE_TASKS_UPDATE_DOCS_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(light, DOCS_SCREENSHOT)
    print(
        f"\nbrowser walk-through took {time.monotonic() - started:.1f}s; screenshots in {artifacts}"
    )
