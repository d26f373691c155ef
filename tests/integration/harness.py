"""Boot the real AstrBot in-process for integration tests.

AstrBot keeps global state (config loaded at import of ``astrbot.core``, star
registry, SQLite engine), so it can boot only once per Python process. The
harness therefore:

1. builds a throwaway AstrBot root (``astrbot init`` equivalent) with this repo
   symlinked in as ``data/plugins/astrbot_plugin_future_tasks``;
2. starts a dedicated thread running an asyncio loop that hosts AstrBot and the
   fakes (scripted OpenAI server, OneBot v11 client, Telegram Bot API server);
3. writes a partial ``data/cmd_config.json`` (AstrBot fills in defaults) that
   points every outbound connection at loopback, *then* imports ``astrbot.core``;
4. runs the same steps as ``astrbot run`` (``InitialLoader.start``) but keeps the
   lifecycle object, so tests can reach the plugin and stop AstrBot cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tests.integration.fakes.llm import DEFAULT_MODEL, FakeLLM
from tests.integration.fakes.onebot import FakeOneBot
from tests.integration.fakes.telegram import FakeTelegram

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGIN_NAME = "astrbot_plugin_future_tasks"
ARTIFACTS_DIR = REPO_ROOT / ".test-artifacts"

PLATFORM_ID = "onebot"
"""``id`` of the aiocqhttp platform; sessions look like ``onebot:FriendMessage:<qq>``."""
ADMIN_ID = "10001"
"""QQ user id listed in ``admins_id``."""
BOT_SELF_ID = 10000
"""QQ id the fake OneBot client claims to be (``X-Self-ID``)."""
TG_PLATFORM_ID = "tg"
"""``id`` of the telegram platform; sessions look like ``tg:FriendMessage:<chat id>``."""
TG_ADMIN_ID = "20001"
"""Telegram user id listed in ``admins_id`` (Telegram admins are matched by user id)."""
TG_TOKEN = "123456:TESTTOKEN"
TG_BOT_USERNAME = "future_tasks_test_bot"
PROVIDER_ID = "fakellm/fake-model"
DASHBOARD_USER = "astrbot"
DASHBOARD_PASSWORD = "FutureTasks2026"
"""Satisfies AstrBot's policy: >= 8 chars, upper, lower and digit."""
TIMEZONE = "Asia/Shanghai"
BOOT_TIMEOUT = 180.0
"""Generous: the first boot on a fresh cache compiles AstrBot and the adapters' SDKs
(lark_oapi alone is ~10 000 modules, ~40 s on a loaded machine)."""
PYCACHE_DIR = Path(
    os.environ.get("ASTRBOT_PROC_PYCACHE")
    or Path(tempfile.gettempdir()) / f"astrbot-proc-pycache-{os.getuid()}"
)
"""Bytecode cache of the AstrBot boots (``sys.pycache_prefix``; safe to delete)."""
PLUGIN_TEST_CONFIG = {
    "send_limit_per_owner_per_hour": 0,
    "send_limit_per_chat_per_minute": 0,
    "create_limit_per_owner_per_hour": 0,
}
"""The plugin's settings for the suite: the flood limits are off, because one AstrBot
serves every test file and the same few test users fire far more than a busy group
would. tests/integration/test_security.py sets small limits on the live settings."""


class AstrBotBootError(RuntimeError):
    """AstrBot (or the plugin under test) did not come up."""


class PlatformPeer(Protocol):
    """A fake chat service that adds one platform to the boot (Slack, Lark, Discord…).

    The harness starts it before AstrBot, puts :meth:`platform_config` into
    ``cmd_config.json``, calls :meth:`point_sdk` before AstrBot is imported (for SDKs whose
    base URL is no config key) and waits until :meth:`connected` says the adapter is up.
    """

    platform_id: str

    async def start(self, port: int = 0) -> None: ...

    async def stop(self) -> None: ...

    def platform_config(self) -> dict[str, Any]: ...

    def point_sdk(self) -> None: ...

    def connected(self, adapter: Any) -> bool: ...


def run_on_loop[R](
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, R], timeout: float
) -> R:
    """Run ``coro`` on ``loop`` (running in another thread) and wait for its result."""
    fut = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return fut.result(timeout)
    except TimeoutError:
        fut.cancel()
        raise


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def plugin_source_dir() -> Path:
    """Directory linked in as the plugin: ``$FUTURE_TASKS_PLUGIN_DIR`` or the repo root.

    The override lets the harness be exercised against a stand-in plugin.
    """
    override = os.environ.get("FUTURE_TASKS_PLUGIN_DIR")
    return Path(override).resolve() if override else REPO_ROOT


def telegram_platform_config(api_base_url: str, file_base_url: str) -> dict[str, Any]:
    """The ``telegram`` platform entry; PTB appends the token to both base URLs."""
    return {
        "id": TG_PLATFORM_ID,
        "type": "telegram",
        "enable": True,
        "telegram_token": TG_TOKEN,
        "start_message": "Hello, I'm AstrBot!",
        "telegram_api_base_url": api_base_url,
        "telegram_file_base_url": file_base_url,
        "telegram_command_register": True,
        "telegram_command_auto_refresh": True,
        "telegram_command_register_interval": 300,
        # Recover quickly if a poll ever fails (default 5 s).
        "telegram_polling_restart_delay": 0.5,
    }


def build_config(
    *,
    ws_port: int,
    dashboard_port: int,
    llm_base_url: str,
    telegram_api_base_url: str | None = None,
    telegram_file_base_url: str | None = None,
    extra_platforms: Sequence[dict[str, Any]] = (),
    extra_admins: Sequence[str] = (),
) -> dict[str, Any]:
    """Partial ``cmd_config.json``; AstrBot merges in defaults for missing keys.

    With ``telegram_api_base_url`` a ``telegram`` platform (id ``tg``) is added;
    ``extra_platforms`` (the peers' entries: tests/integration/peers.py, and
    :class:`PlatformPeer`) and ``extra_admins`` are appended.
    """
    platforms: list[dict[str, Any]] = [
        {
            "id": PLATFORM_ID,
            "type": "aiocqhttp",
            "enable": True,
            "ws_reverse_host": "127.0.0.1",
            "ws_reverse_port": ws_port,
            "ws_reverse_token": "",
        }
    ]
    if telegram_api_base_url:
        platforms.append(
            telegram_platform_config(
                telegram_api_base_url,
                telegram_file_base_url or telegram_api_base_url.replace("/bot", "/file/bot"),
            )
        )
    platforms.extend(extra_platforms)
    return {
        "admins_id": ["astrbot", ADMIN_ID, TG_ADMIN_ID, *extra_admins],
        "timezone": TIMEZONE,
        "log_level": "DEBUG",
        "disable_metrics": True,
        # Keep every outbound URL on loopback so nothing tries the internet.
        "t2i_endpoint": "http://127.0.0.1:9/text2img",
        "pypi_index_url": "http://127.0.0.1:9/simple",
        "platform": platforms,
        "platform_settings": {
            # Default rate limit (30/min, "stall") would slow chatty tests down.
            "rate_limit": {"time": 60, "count": 10_000, "strategy": "discard"},
            "enable_id_white_list": False,
        },
        "provider_sources": [
            {
                "id": "fakellm",
                "provider": "openai",
                "type": "openai_chat_completion",
                "provider_type": "chat_completion",
                "enable": True,
                "key": ["sk-fake"],
                "api_base": llm_base_url,
                "timeout": 30,
                "proxy": "",
                "custom_headers": {},
            }
        ],
        "provider": [
            {
                "id": PROVIDER_ID,
                "provider_source_id": "fakellm",
                "model": DEFAULT_MODEL,
                "enable": True,
            }
        ],
        "agent_runner": {
            "runner_type": "local",
            "config": {"model": {"provider_id": PROVIDER_ID, "request_max_retries": 1}},
        },
        "dashboard": {
            "enable": True,
            "host": "127.0.0.1",
            "port": dashboard_port,
            "auth_rate_limit": {"enable": False},
        },
    }


class LogCapture:
    """Thread-safe list of formatted AstrBot log lines (via a loguru sink)."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._sink_id: int | None = None

    def install(self) -> None:
        from loguru import logger as loguru_logger

        self._sink_id = loguru_logger.add(self._write, level="DEBUG", colorize=False)

    def uninstall(self) -> None:
        from loguru import logger as loguru_logger

        if self._sink_id is not None:
            with contextlib.suppress(ValueError):
                loguru_logger.remove(self._sink_id)
            self._sink_id = None

    def _write(self, message: Any) -> None:
        record = message.record
        extra = record["extra"]
        line = (
            f"{record['time']:%H:%M:%S.%f} [{record['level'].name}] "
            f"{extra.get('plugin_tag', '')} "
            f"[{extra.get('source_file', record['name'])}:{extra.get('source_line', '')}] "
            f"{record['message']}"
        )
        exc = record["exception"]
        if exc is not None and exc.type is not None:
            line += (
                "\n"
                + "".join(traceback.format_exception(exc.type, exc.value, exc.traceback)).rstrip()
            )
        with self._lock:
            self._lines.append(line)

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def grep(self, needle: str) -> list[str]:
        return [line for line in self.lines if needle in line]

    def tail(self, n: int = 80) -> str:
        return "\n".join(self.lines[-n:])


@dataclass
class AstrBot:
    """Handle on the running AstrBot given to tests (fixture ``astrbot``)."""

    home: Path
    loop: asyncio.AbstractEventLoop
    onebot: FakeOneBot
    llm: FakeLLM
    logs: LogCapture
    dashboard_url: str
    telegram: FakeTelegram
    """Fake Telegram Bot API the ``tg`` platform polls."""
    lifecycle: Any = None
    """``astrbot.core.core_lifecycle.AstrBotCoreLifecycle``."""
    peers: dict[str, Any] = field(default_factory=dict)
    """Extra fake platforms by platform id (tests/integration/peers.py and
    :class:`PlatformPeer`): ``peers["satori"].fake``, ``peers["discord"]``."""
    platform_id: str = PLATFORM_ID
    telegram_platform_id: str = TG_PLATFORM_ID
    tg_admin_id: str = TG_ADMIN_ID
    admin_id: str = ADMIN_ID
    dashboard_user: str = DASHBOARD_USER
    dashboard_password: str = DASHBOARD_PASSWORD

    # ------------------------------------------------------------ loop bridge

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on AstrBot's loop from a sync test and return its result."""
        return run_on_loop(self.loop, coro, timeout)

    async def arun(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Like :meth:`run`, awaitable from an async test on pytest's own loop."""
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), timeout)
        except TimeoutError:
            fut.cancel()
            raise

    # ------------------------------------------------------------- AstrBot bits

    @property
    def context(self) -> Any:
        """The plugin-facing ``astrbot.core.star.context.Context``."""
        return self.lifecycle.star_context

    @property
    def star(self) -> Any:
        """``StarMetadata`` of the plugin under test (matched by directory name)."""
        for meta in self.context.get_all_stars():
            if meta.root_dir_name == PLUGIN_NAME:
                return meta
        raise LookupError(f"{PLUGIN_NAME} is not in AstrBot's star registry")

    @property
    def plugin(self) -> Any:
        """The plugin's ``Star`` instance."""
        return self.star.star_cls

    def runs(self, job_id: str) -> list[Any]:
        """The plugin's run history of ``job_id`` (``core.models.Run``, newest first)."""
        runs, _ = self.run(self.plugin.service.store.runs_for(job_id))
        return runs

    def finished_runs(self, job_id: str, timeout: float = 15.0) -> list[Any]:
        """The run history of ``job_id`` once it has runs and none is still running (or
        ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs(job_id)
            if runs and all(r.status.value != "running" for r in runs):
                return runs
            time.sleep(0.2)
        return self.runs(job_id)

    def finished_run(self, job_id: str, timeout: float = 40.0) -> Any:
        """The newest finished run of ``job_id``, waited for (AssertionError if none)."""
        runs = [r for r in self.finished_runs(job_id, timeout) if r.status.value != "running"]
        if not runs:
            raise AssertionError(f"no finished run of {job_id}: {self.runs(job_id)}")
        return runs[0]

    def umo(self, user_id: int | str, group: bool = False) -> str:
        """Unified message origin for a QQ private chat or group on the fake."""
        kind = "GroupMessage" if group else "FriendMessage"
        return f"{self.platform_id}:{kind}:{user_id}"

    def tg_umo(
        self, chat_id: int | str, group: bool = False, thread_id: int | str | None = None
    ) -> str:
        """Unified message origin for a Telegram chat on the fake.

        Private chats: ``tg:FriendMessage:<user id>``; groups/supergroups:
        ``tg:GroupMessage:<chat id>``; forum topics: ``tg:GroupMessage:<chat id>#<thread id>``
        (what AstrBot's adapter uses as the session id; ``thread_id`` implies a group).
        """
        session = f"{chat_id}#{thread_id}" if thread_id is not None else str(chat_id)
        kind = "GroupMessage" if group or thread_id is not None else "FriendMessage"
        return f"{self.telegram_platform_id}:{kind}:{session}"

    def adapter(self, platform_id: str) -> Any:
        """AstrBot's adapter instance of ``platform_id``."""
        for inst in self.lifecycle.platform_manager.get_insts():
            if inst.meta().id == platform_id:
                return inst
        raise LookupError(f"no platform {platform_id!r} loaded")

    @property
    def telegram_adapter(self) -> Any:
        """AstrBot's ``TelegramPlatformAdapter`` instance for the fake."""
        return self.adapter(self.telegram_platform_id)


class AstrBotRunner:
    """Owns the background loop thread and the boot/shutdown sequence."""

    def __init__(self, peers: Sequence[Any] = ()) -> None:
        """``peers``: extra chat services faked on loopback to boot with
        (tests/integration/peers.py, and :class:`PlatformPeer` fakes)."""
        self.peers = {peer.platform_id: peer for peer in peers}
        self.home = Path(tempfile.mkdtemp(prefix="astrbot-it-"))
        self.loop = asyncio.new_event_loop()
        self.logs = LogCapture()
        self.llm = FakeLLM()
        self.onebot: FakeOneBot | None = None
        self.telegram = FakeTelegram(token=TG_TOKEN, username=TG_BOT_USERNAME)
        self.handle: AstrBot | None = None
        self._thread = threading.Thread(target=self._run_loop, name="astrbot-loop", daemon=True)
        self._main: Future[Any] | None = None

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    # ------------------------------------------------------------------- boot

    def _prepare_home(self, ws_port: int, dashboard_port: int) -> None:
        data = self.home / "data"
        for sub in ("config", "plugins", "temp"):
            (data / sub).mkdir(parents=True, exist_ok=True)
        (self.home / ".astrbot").touch()
        (data / "plugins" / PLUGIN_NAME).symlink_to(plugin_source_dir(), target_is_directory=True)
        config = build_config(
            ws_port=ws_port,
            dashboard_port=dashboard_port,
            llm_base_url=self.llm.base_url,
            telegram_api_base_url=self.telegram.api_base_url,
            telegram_file_base_url=self.telegram.file_base_url,
            extra_platforms=[peer.platform_config() for peer in self.peers.values()],
            extra_admins=[a for peer in self.peers.values() for a in getattr(peer, "admins", ())],
        )
        (data / "cmd_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        plugin_config = data / "config" / f"{PLUGIN_NAME}_config.json"
        plugin_config.write_text(json.dumps(PLUGIN_TEST_CONFIG, indent=2), encoding="utf-8")

    def start(self) -> AstrBot:
        self._thread.start()
        self._call(self.llm.start(), 10)
        self._call(self.telegram.start(), 10)
        for peer in self.peers.values():
            self._call(peer.start(), 10)
            if hasattr(peer, "point_sdk"):
                peer.point_sdk()
        ws_port, dashboard_port = free_port(), free_port()
        self._prepare_home(ws_port, dashboard_port)

        # Everything below must happen before `astrbot.core` is first imported.
        # Bytecode goes to a cache of our own (not into the venv), even where
        # PYTHONDONTWRITEBYTECODE is set: otherwise every run compiles the SDKs again.
        sys.pycache_prefix = str(PYCACHE_DIR)
        sys.dont_write_bytecode = False
        os.environ["ASTRBOT_ROOT"] = str(self.home)
        os.environ["ASTRBOT_DASHBOARD_INITIAL_PASSWORD"] = DASHBOARD_PASSWORD
        os.environ["DASHBOARD_HOST"] = "127.0.0.1"
        os.environ["DASHBOARD_PORT"] = str(dashboard_port)
        for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            os.environ.pop(var, None)
        # Plugins are imported as `data.plugins.<name>.main`, relative to the root.
        sys.path.insert(0, str(self.home))

        self.onebot = FakeOneBot(f"ws://127.0.0.1:{ws_port}/ws", self_id=BOT_SELF_ID)
        handle = AstrBot(
            home=self.home,
            loop=self.loop,
            onebot=self.onebot,
            llm=self.llm,
            telegram=self.telegram,
            logs=self.logs,
            dashboard_url=f"http://127.0.0.1:{dashboard_port}",
            peers=self.peers,
        )
        self.handle = handle
        started: Future[Any] = Future()
        self._main = asyncio.run_coroutine_threadsafe(self._serve(handle, started), self.loop)
        try:
            self._wait(started, self._main)
            self._check_plugin(handle)
            self._call(self.onebot.connect(timeout=20), 30)
            self._wait_onebot_registered(handle)
            self._wait_telegram_polling(handle)
            self._wait_peers_connected(handle)
        except BaseException:
            self.dump_logs()
            self.stop()
            raise
        return handle

    def _wait(self, started: Future[Any], main: Future[Any]) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not started.done():
            if main.done():
                exc = main.exception()
                raise AstrBotBootError(
                    f"AstrBot exited during boot: {exc!r}\n--- log tail ---\n{self.logs.tail()}"
                )
            if time.monotonic() > deadline:
                raise AstrBotBootError(
                    f"AstrBot not up after {BOOT_TIMEOUT}s\n--- log tail ---\n{self.logs.tail()}"
                )
            time.sleep(0.05)
        started.result()

    async def _serve(self, handle: AstrBot, started: Future[Any]) -> None:
        """``InitialLoader.start`` with the lifecycle kept and a readiness signal."""
        from astrbot.core import LogBroker, LogManager, db_helper, logger
        from astrbot.core import core_lifecycle as lifecycle_mod
        from astrbot.dashboard.server import AstrBotDashboard

        # After the import: AstrBot's logging setup removes all existing loguru sinks.
        self.logs.install()

        async def _no_metadata_fetch() -> None:
            """``update_llm_metadata`` downloads model metadata from the internet."""

        lifecycle_mod.update_llm_metadata = _no_metadata_fetch  # type: ignore[attr-defined]

        log_broker = LogBroker()
        LogManager.set_queue_handler(logger, log_broker)
        lifecycle = lifecycle_mod.AstrBotCoreLifecycle(log_broker, db_helper)
        handle.lifecycle = lifecycle
        try:
            await lifecycle.initialize()
        except BaseException as exc:
            started.set_exception(AstrBotBootError(f"lifecycle.initialize() failed: {exc!r}"))
            raise

        core_task = asyncio.ensure_future(lifecycle.start())
        dashboard = AstrBotDashboard(lifecycle, db_helper, lifecycle.dashboard_shutdown_event)
        dashboard_coro = dashboard.run()
        tasks: list[asyncio.Future[Any]] = [core_task]
        if dashboard_coro:
            tasks.append(asyncio.ensure_future(dashboard_coro))
        await self._until_ready(handle)
        started.set_result(None)
        await asyncio.gather(*tasks)

    async def _until_ready(self, handle: AstrBot) -> None:
        """Wait for "AstrBot started." and the dashboard port (both are async)."""
        port = int(handle.dashboard_url.rsplit(":", 1)[1])
        while not self.logs.grep("AstrBot started."):
            await asyncio.sleep(0.05)
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return

    def _check_plugin(self, handle: AstrBot) -> None:
        """Fail loudly: AstrBot only logs plugin import errors and boots anyway."""
        failed = handle.lifecycle.plugin_manager.failed_plugin_dict.get(PLUGIN_NAME)
        try:
            meta = handle.star
        except LookupError:
            meta = None
        if failed or meta is None or not meta.activated or meta.star_cls is None:
            detail = ""
            if isinstance(failed, dict):
                detail = f"{failed.get('error')}\n{failed.get('traceback', '')}"
            elif failed:
                detail = str(failed)
            relevant = [
                line
                for line in self.logs.lines
                if PLUGIN_NAME in line or "Traceback" in line or "[ERROR]" in line
            ]
            raise AstrBotBootError(
                f"plugin {PLUGIN_NAME} did not load from {plugin_source_dir()}: "
                f"{detail or 'not registered / not activated'}\n"
                "--- relevant log lines ---\n" + "\n".join(relevant[-60:])
            )

    def _wait_onebot_registered(self, handle: AstrBot) -> None:
        """The adapter must have our WebSocket as its API client before tests send."""

        async def registered() -> None:
            inst = next(
                p
                for p in handle.lifecycle.platform_manager.get_insts()
                if p.meta().id == PLATFORM_ID
            )
            while str(BOT_SELF_ID) not in getattr(inst.bot, "_wsr_api_clients", {}):
                await asyncio.sleep(0.05)

        self._call(asyncio.wait_for(registered(), 15), 20)

    def _wait_telegram_polling(self, handle: AstrBot) -> None:
        """The telegram adapter is up once it called getMe and long-polls getUpdates."""

        async def polling() -> None:
            await self.telegram.wait_for_call(lambda c: c.method == "getMe", timeout=20)
            await self.telegram.wait_for_call(
                lambda c: c.method == "getUpdates" and (c.params.get("timeout") or 0) > 0,
                timeout=20,
            )
            assert handle.telegram_adapter is not None

        try:
            self._call(polling(), 30)
        except (TimeoutError, LookupError) as exc:
            calls = [(c.method, c.params) for c in self.telegram.calls]
            raise AstrBotBootError(
                f"telegram adapter did not start polling the fake Bot API: {exc}\n"
                f"calls: {calls}\n--- log tail ---\n{self.logs.tail()}"
            ) from exc

    def _wait_peers_connected(self, handle: AstrBot) -> None:
        """Every extra platform's adapter has connected to its fake: as the fake sees it
        (``wait_ready``) or as the adapter says (:meth:`PlatformPeer.connected`)."""

        async def connected(peer: Any) -> None:
            if hasattr(peer, "wait_ready"):
                await peer.wait_ready(30)
                return
            while not peer.connected(handle.adapter(peer.platform_id)):
                await asyncio.sleep(0.05)

        for platform_id, peer in self.peers.items():
            try:
                self._call(asyncio.wait_for(connected(peer), 30), 35)
            except (TimeoutError, LookupError) as exc:
                raise AstrBotBootError(
                    f"platform {platform_id!r} did not connect to its fake: {exc!r}\n"
                    f"--- log tail ---\n{self.logs.tail()}"
                ) from exc

    # --------------------------------------------------------------- shutdown

    def stop(self) -> None:
        """Stop AstrBot (runs plugins' ``terminate()``), the fakes and the loop."""
        if not self.loop.is_running():
            return
        lifecycle = self.handle.lifecycle if self.handle else None
        if lifecycle is not None and hasattr(lifecycle, "plugin_manager"):
            with contextlib.suppress(Exception):
                self._call(lifecycle.stop(), 60)
        if self._main is not None and not self._main.done():
            with contextlib.suppress(Exception):
                self._main.result(10)
            self._main.cancel()
        if self.onebot is not None:
            with contextlib.suppress(Exception):
                self._call(self.onebot.close(), 10)
        with contextlib.suppress(Exception):
            self._call(self.telegram.stop(), 10)
        for peer in self.peers.values():
            with contextlib.suppress(Exception):
                self._call(peer.stop(), 10)
        with contextlib.suppress(Exception):
            self._call(self.llm.stop(), 10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(15)
        self.logs.uninstall()

    def dump_logs(self, name: str = "astrbot-integration.log") -> Path:
        """Write the captured log to ``.test-artifacts/`` for post-mortems."""
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        path = ARTIFACTS_DIR / name
        path.write_text("\n".join(self.logs.lines) + "\n", encoding="utf-8")
        return path

    def cleanup(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)
