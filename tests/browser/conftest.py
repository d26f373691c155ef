"""Fixtures for the browser test of the WebUI page: Debian's Chromium, headless, driven
by selenium through the system chromedriver, against the real in-process AstrBot.

Runs in its own pytest process (AstrBot boots once per process), after tests/unit and
tests/integration: ``.venv/bin/python -m pytest tests/browser``. Skips only when the
Chromium binaries are not installed (``scripts/setup.sh`` installs them when it can).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.harness import (
    ARTIFACTS_DIR,
    PLUGIN_NAME,
    AstrBot,
    AstrBotRunner,
    plugin_source_dir,
)

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--no-proxy-server",  # loopback only, whatever the environment says
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
WIDE = (1440, 960)


@dataclass(frozen=True)
class Chromium:
    binary: str
    driver: str


def _find_chromium() -> Chromium | None:
    binary = next((p for p in CHROMIUM_CANDIDATES if os.access(p, os.X_OK)), None)
    driver = CHROMEDRIVER if os.access(CHROMEDRIVER, os.X_OK) else shutil.which("chromedriver")
    if not binary or not driver:
        return None
    return Chromium(binary, driver)


@pytest.fixture(scope="session")
def chromium() -> Chromium:
    """Debian's Chromium and chromedriver, or a skip saying how to get them."""
    found = _find_chromium()
    if found is None:
        pytest.skip(
            "Chromium is not installed (need /usr/bin/chromium and /usr/bin/chromedriver): "
            "run scripts/setup.sh as root, or `apt-get install chromium chromium-driver`"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.fail("selenium is missing from .venv: run scripts/setup.sh")
    return found


# What a real install (a copy of the repo in data/plugins/) would not contain.
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".astrbot-home",
    ".test-artifacts",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "__pycache__",
    "*.db",
    "*.db-*",
)


class CopiedPluginRunner(AstrBotRunner):
    """The integration harness, but with the plugin *copied* into ``data/plugins/``.

    The harness symlinks the repo in. AstrBot 4.29's plugin page service resolves the
    plugin folder and refuses one that resolves outside ``data/plugins/`` (it answers
    "插件 View 不存在" for every page), so a symlinked plugin has no WebUI page.
    """

    def _prepare_home(self, ws_port: int, dashboard_port: int) -> None:
        super()._prepare_home(ws_port, dashboard_port)
        link = self.home / "data" / "plugins" / PLUGIN_NAME
        if link.is_symlink():
            link.unlink()
            shutil.copytree(plugin_source_dir(), link, ignore=COPY_IGNORE, symlinks=True)


@pytest.fixture(scope="session")
def astrbot(chromium: Chromium) -> Iterator[AstrBot]:
    """The running AstrBot with its dashboard (booted only once Chromium is known to be
    there, so a skip costs nothing)."""
    runner = CopiedPluginRunner()
    handle = runner.start()
    try:
        yield handle
    finally:
        runner.stop()
        runner.dump_logs("astrbot-browser.log")
        runner.cleanup()


@pytest.fixture(scope="session")
def driver(chromium: Chromium) -> Iterator[object]:
    """A headless Chromium; never lets selenium-manager download anything."""
    os.environ["SE_OFFLINE"] = "1"
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        os.environ.pop(var, None)  # selenium would send its own driver traffic through them
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="future-tasks-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium.binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={WIDE[0]},{WIDE[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=chromium.driver)
    browser = webdriver.Chrome(service=service, options=options)
    browser.set_window_size(*WIDE)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = ARTIFACTS_DIR / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path
