"""Run the real AstrBot as a subprocess, for restart and crash tests.

Unlike the in-process harness (:mod:`tests.integration.harness`, one boot per pytest
process), :class:`AstrBotProcess` starts ``astrbot run`` as a child process on a
throwaway AstrBot home, so it can be stopped (``SIGTERM``), interrupted (``SIGINT``),
killed (``SIGKILL``) and started again on the same home and database.

The fakes (scripted OpenAI server, OneBot v11 client) live in the test process on an
asyncio loop in a background thread and survive restarts: the OneBot client reconnects
to each new AstrBot process by itself (AstrBot is the WebSocket server).

Notes on AstrBot's signal handling (4.29): ``astrbot run`` installs no ``SIGTERM``
handler, so ``SIGTERM`` ends the process at once, like ``SIGKILL`` (no plugin
``terminate()``, no clean database close). ``SIGINT`` is the graceful stop: asyncio turns
it into a cancellation and ``InitialLoader`` runs ``core_lifecycle.stop()``.

Nothing here touches the network: every URL AstrBot could fetch points at loopback, and
the subprocess's HTTP(S) proxy is a closed loopback port, so the model-metadata fetch
AstrBot starts at boot (``update_llm_metadata``) fails at once and only logs a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from tests.integration.fakes.llm import FakeLLM
from tests.integration.fakes.onebot import Action, FakeOneBot
from tests.integration.harness import (
    ADMIN_ID,
    ARTIFACTS_DIR,
    BOT_SELF_ID,
    DASHBOARD_PASSWORD,
    PLATFORM_ID,
    PLUGIN_NAME,
    PLUGIN_TEST_CONFIG,
    PYCACHE_DIR,
    REPO_ROOT,
    AstrBotBootError,
    build_config,
    free_port,
    plugin_source_dir,
    run_on_loop,
)

T = TypeVar("T")

VENV_BIN = REPO_ROOT / ".venv" / "bin"
READY_LINE = "[future tasks] scheduler started"
STARTED_LINE = "AstrBot started."
BOOT_TIMEOUT = 90.0
PLUGIN_START_GRACE = 10.0
"""How long after "AstrBot started." the plugin may take to log :data:`READY_LINE`."""
DEAD_PROXY = "http://127.0.0.1:9"
"""Closed loopback port used as the subprocess's HTTP(S) proxy: outbound fetches fail fast."""


FAILURE_MARKERS = (
    f"Failed to import plugin {PLUGIN_NAME}",
    f"Failed to load plugin {PLUGIN_NAME}",
    "Failed to initialize AstrBot",
    "[future tasks] the scheduler will not start",
    "[future tasks] scheduler is off",
)
"""Log lines meaning the boot (or the plugin under test) failed: fail at once."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the test process dies, so no AstrBot is orphaned
    (Linux ``PR_SET_PDEATHSIG``; a no-op elsewhere)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class LoopThread:
    """An asyncio loop in a daemon thread; :meth:`run` executes a coroutine on it."""

    def __init__(self, name: str = "fakes-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return run_on_loop(self.loop, coro, timeout)

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self.loop.is_running():
            self.loop.close()


class AstrBotProcess:
    """The real ``astrbot run`` as a child process on its own AstrBot home.

    Create it, call :meth:`start`; :meth:`stop` / :meth:`kill` / :meth:`interrupt` end
    it and :meth:`start` / :meth:`restart` bring it back on the same home, config and
    database. :meth:`close` ends everything (process, fakes, loop); :meth:`cleanup`
    removes the home. Usable as a context manager (``close`` + ``cleanup`` on exit).
    """

    def __init__(
        self,
        home: Path | None = None,
        *,
        dashboard: bool = False,
        env: Mapping[str, str] | None = None,
        plugin_config: Mapping[str, Any] | None = None,
        config_overrides: Mapping[str, Any] | None = None,
        command: list[str] | None = None,
        extra_peers: Sequence[Any] = (),
    ) -> None:
        """
        Args:
            home: AstrBot root to use (created and prepared when it has no ``.astrbot``);
                default: a new temp dir.
            dashboard: serve the WebUI on :attr:`dashboard_port` (off by default: faster).
            env: extra environment for the subprocess (e.g. ``FUTURE_TASKS_SKIP_CRON``).
            plugin_config: the plugin's config, written to
                ``data/config/astrbot_plugin_future_tasks_config.json``.
            config_overrides: top-level keys replaced in ``cmd_config.json``.
            command: the command line (default ``.venv/bin/astrbot run``).
            extra_peers: loopback chat services (tests/integration/peers.py), started here
                and kept across restarts; ``peers[platform_id].fake`` in tests.
        """
        self.home = Path(home) if home else Path(tempfile.mkdtemp(prefix="astrbot-proc-"))
        self.dashboard = dashboard
        self.extra_env = dict(env or {})
        self.command = command or [str(VENV_BIN / "astrbot"), "run"]
        self.ws_port = free_port()
        self.dashboard_port = free_port()
        self.log_path = self.home / "astrbot.log"
        self.loop = LoopThread()
        self.llm = FakeLLM()
        self.loop.run(self.llm.start(), 10)
        self.peers = {peer.platform_id: peer for peer in extra_peers}
        for peer in self.peers.values():
            self.loop.run(peer.start(), 10)
        self.onebot = FakeOneBot(
            f"ws://127.0.0.1:{self.ws_port}/ws", self_id=BOT_SELF_ID, reconnect=True
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        """How many times the process was started."""
        self.boot_seconds: list[float] = []
        """Start-to-ready time of each boot that :meth:`wait_ready` saw complete."""
        self._log_offset = 0
        self._started_at = 0.0
        self._connections_before = 0
        self._dialler: Future[None] | None = None
        self._database_path = (plugin_config or {}).get("database_path")
        self._prepare_home(plugin_config, config_overrides)

    # ------------------------------------------------------------------ setup

    def _prepare_home(
        self,
        plugin_config: Mapping[str, Any] | None,
        config_overrides: Mapping[str, Any] | None,
    ) -> None:
        """``astrbot init`` equivalent, the plugin link and a partial cmd_config.json."""
        data = self.home / "data"
        for sub in ("config", "plugins", "temp"):
            (data / sub).mkdir(parents=True, exist_ok=True)
        (self.home / ".astrbot").touch()
        link = data / "plugins" / PLUGIN_NAME
        if not link.exists():
            link.symlink_to(plugin_source_dir(), target_is_directory=True)
        config = build_config(
            ws_port=self.ws_port,
            dashboard_port=self.dashboard_port,
            llm_base_url=self.llm.base_url,
            extra_platforms=[peer.platform_config() for peer in self.peers.values()],
            extra_admins=[a for peer in self.peers.values() for a in getattr(peer, "admins", ())],
        )
        config["dashboard"]["enable"] = self.dashboard
        config.update(config_overrides or {})
        (data / "cmd_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        (data / "config" / f"{PLUGIN_NAME}_config.json").write_text(
            json.dumps({**PLUGIN_TEST_CONFIG, **(plugin_config or {})}, indent=2),
            encoding="utf-8",
        )

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        for var in list(env):
            if var.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}:
                del env[var]
        for var in ("FUTURE_TASKS_SKIP_CRON", "FUTURE_TASKS_PLUGIN_DIR", "PYTEST_CURRENT_TEST"):
            env.pop(var, None)
        env.update(
            ASTRBOT_ROOT=str(self.home),
            ASTRBOT_DASHBOARD_INITIAL_PASSWORD=DASHBOARD_PASSWORD,
            DASHBOARD_HOST="127.0.0.1",
            DASHBOARD_PORT=str(self.dashboard_port),
            PYTHONUNBUFFERED="1",
            # Bytecode goes to a cache of our own (not into the venv): without it every
            # boot compiles AstrBot's imports from source (~8 s of a ~12 s boot).
            PYTHONPYCACHEPREFIX=str(PYCACHE_DIR),
            NO_COLOR="1",
            # AstrBot's aiohttp/httpx clients honour these, so anything off loopback fails
            # fast. (AstrBot deletes the lower-case variants at boot, not these.)
            HTTP_PROXY=DEAD_PROXY,
            HTTPS_PROXY=DEAD_PROXY,
            NO_PROXY="127.0.0.1,localhost,::1",
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(self.extra_env)
        return env

    # ---------------------------------------------------------------- properties

    @property
    def db_path(self) -> Path:
        """The plugin's SQLite database (its ``database_path`` setting, else the default)."""
        if self._database_path:
            return Path(self._database_path)
        return self.home / "data" / "plugin_data" / PLUGIN_NAME / "future_tasks.db"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit status of the last process (``-N`` for signal N); None while running."""
        return self.proc.poll() if self.proc is not None else None

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    platform_id = PLATFORM_ID
    admin_id = ADMIN_ID

    def umo(self, user_id: int | str, group: bool = False) -> str:
        kind = "GroupMessage" if group else "FriendMessage"
        return f"{self.platform_id}:{kind}:{user_id}"

    # ------------------------------------------------------------------ lifecycle

    def start(self, wait: bool = True, timeout: float = BOOT_TIMEOUT) -> None:
        """Start ``astrbot run``; with ``wait``, return once :meth:`wait_ready` passes."""
        if self.running:
            raise RuntimeError(f"AstrBot is already running (pid {self.pid})")
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(
                f"\n===== start #{self.starts} at {time.strftime('%H:%M:%S')} =====\n".encode()
            )
            self._log_offset = log.tell()
        self._connections_before = self.onebot.connections
        self._started_at = time.monotonic()
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.home,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal does not reach it
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        if self._dialler is None or (self._dialler.done() and self.onebot.connections == 0):
            # First start: begin dialling in the background; once connected, the client
            # reconnects by itself after every restart.
            self._dialler = asyncio.run_coroutine_threadsafe(
                self.onebot.connect(timeout=timeout), self.loop.loop
            )
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = BOOT_TIMEOUT, onebot: bool = True) -> float:
        """Wait until this boot logged "AstrBot started." and :data:`READY_LINE` and
        (with ``onebot``) the fake OneBot client (re)connected; returns the seconds since
        :meth:`start`.

        Raises :class:`AstrBotBootError` with the log tail if the process exits, a
        failure marker (plugin import/load error, scheduler not started) appears, or
        ``timeout`` passes.
        """
        deadline = self._started_at + timeout
        started_seen: float | None = None
        while True:
            text = self.log_text(current=True)
            for marker in FAILURE_MARKERS:
                if marker in text:
                    raise AstrBotBootError(
                        f"AstrBot boot failed ({marker!r}) from {plugin_source_dir()}\n"
                        f"--- log tail ---\n{self.log_tail()}"
                    )
            if READY_LINE in text:
                break
            if not self.running:
                raise AstrBotBootError(
                    f"AstrBot exited during boot (status {self.returncode})\n"
                    f"--- log tail ---\n{self.log_tail()}"
                )
            now = time.monotonic()
            if STARTED_LINE in text and started_seen is None:
                started_seen = now
            if started_seen is not None and now - started_seen > PLUGIN_START_GRACE:
                raise AstrBotBootError(
                    f"AstrBot started but {PLUGIN_NAME} never logged {READY_LINE!r}\n"
                    f"--- log tail ---\n{self.log_tail()}"
                )
            if now > deadline:
                raise AstrBotBootError(
                    f"AstrBot not ready after {timeout}s\n--- log tail ---\n{self.log_tail()}"
                )
            time.sleep(0.05)
        if onebot:
            self.wait_onebot(max(deadline - time.monotonic(), 1.0))
        if self.dashboard:
            self._wait_port(self.dashboard_port, deadline)
        elapsed = time.monotonic() - self._started_at
        self.boot_seconds.append(elapsed)
        return elapsed

    def wait_onebot(self, timeout: float = 30.0) -> None:
        """Wait until the fake OneBot client connected to the current process."""
        try:
            self.loop.run(
                self.onebot.wait_connected(timeout, self._connections_before + 1), timeout + 5
            )
        except TimeoutError as exc:
            raise AstrBotBootError(f"{exc}\n--- log tail ---\n{self.log_tail()}") from exc

    def _wait_port(self, port: int, deadline: float) -> None:
        import socket

        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if time.monotonic() > deadline or not self.running:
                raise AstrBotBootError(
                    f"dashboard port {port} not open\n--- log tail ---\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _signal(self, sig: signal.Signals, timeout: float) -> int | None:
        """Send ``sig`` and wait for the exit; SIGKILL if it outlives ``timeout``."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait(10)
        self._wait_disconnected()
        return self.proc.returncode

    def _wait_disconnected(self, timeout: float = 5.0) -> None:
        """The client must notice the dead server before the next boot is awaited."""
        deadline = time.monotonic() + timeout
        while self.onebot.connected and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self, timeout: float = 30.0) -> int | None:
        """``SIGTERM`` and wait; returns the exit status. (AstrBot has no SIGTERM
        handler: this ends it at once, without plugin ``terminate()``.)"""
        return self._signal(signal.SIGTERM, timeout)

    def interrupt(self, timeout: float = 30.0) -> int | None:
        """``SIGINT`` and wait: AstrBot's graceful shutdown (plugins' ``terminate()``)."""
        return self._signal(signal.SIGINT, timeout)

    def kill(self) -> int | None:
        """``SIGKILL`` and wait; returns the exit status."""
        return self._signal(signal.SIGKILL, 10)

    def restart(self, how: str = "stop", wait: bool = True, timeout: float = BOOT_TIMEOUT) -> None:
        """End the process (``how``: ``stop``, ``interrupt`` or ``kill``) and start again."""
        {"stop": self.stop, "interrupt": self.interrupt, "kill": self.kill}[how]()
        self.start(wait=wait, timeout=timeout)

    def close(self) -> None:
        """Kill the process if running, stop the fakes and the loop (idempotent)."""
        if self.running:
            self.kill()
        if self.loop.loop.is_running():
            with contextlib.suppress(Exception):
                self.loop.run(self.onebot.close(), 10)
            with contextlib.suppress(Exception):
                self.loop.run(self.llm.stop(), 10)
            for peer in self.peers.values():
                with contextlib.suppress(Exception):
                    self.loop.run(peer.stop(), 10)
            self.loop.stop()

    def cleanup(self) -> None:
        """Remove the AstrBot home (call after :meth:`close`)."""
        shutil.rmtree(self.home, ignore_errors=True)

    def dump_log(self, name: str = "astrbot-process.log") -> Path:
        """Copy the whole log to ``.test-artifacts/`` for post-mortems."""
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        path = ARTIFACTS_DIR / name
        path.write_text(self.log_text(), encoding="utf-8")
        return path

    def __enter__(self) -> AstrBotProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.cleanup()

    # ----------------------------------------------------------------------- logs

    def log_text(self, current: bool = False) -> str:
        """The captured stdout/stderr of every start (``current``: this start only),
        ANSI colours removed."""
        try:
            with self.log_path.open("rb") as f:
                if current:
                    f.seek(self._log_offset)
                raw = f.read()
        except FileNotFoundError:
            return ""
        return _ANSI.sub("", raw.decode("utf-8", errors="replace"))

    def log_tail(self, n: int = 80) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def grep(self, needle: str, current: bool = False) -> list[str]:
        return [line for line in self.log_text(current).splitlines() if needle in line]

    # ------------------------------------------------------------------- the chat

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the fakes' loop (for ``self.onebot`` / ``self.llm`` calls)."""
        return self.loop.run(coro, timeout)

    def wait_for(
        self,
        predicate: Callable[[Action], bool],
        since: int = 0,
        timeout: float = 15.0,
    ) -> Action:
        """The first OneBot action from index ``since`` matching ``predicate``."""
        return self.run(
            self.onebot.wait_for_action(predicate, timeout=timeout, since=since), timeout + 5
        )

    def say(
        self,
        user: int,
        text: str,
        *,
        group: int | None = None,
        starts: str = "",
        timeout: float = 15.0,
    ) -> str:
        """Send ``text`` as QQ ``user`` (in ``group``, if given) and return the bot's
        first reply in that chat starting with ``starts``."""
        since = self.onebot.mark()
        if group is None:
            self.run(self.onebot.send_private_message(user, text))
            name, target = "send_private_msg", user
        else:
            self.run(self.onebot.send_group_message(group, user, text))
            name, target = "send_group_msg", group
        action = self.wait_for(
            lambda a: a.name == name and a.target == target and a.text.startswith(starts),
            since=since,
            timeout=timeout,
        )
        return action.text

    # ------------------------------------------------------------------- database

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Read-only query on the plugin's database (safe while AstrBot runs: WAL)."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
        try:
            conn.row_factory = sqlite3.Row
            return list(conn.execute(sql, params))
        finally:
            conn.close()
