"""Wires the core to AstrBot: settings from the plugin config, the store, the engine and
the service, started once AstrBot's platforms are up and stopped on terminate()."""

from __future__ import annotations

import asyncio
import os
import sys
import types
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.chat_safe import chat_safe
from ..core.engine import Engine
from ..core.errors import StoreError, UserError
from ..core.models import Delivery, Job, Owner
from ..core.service import Actor, TaskService
from ..core.settings import Settings
from ..core.store import Store
from .agent import AgentRunner
from .commands import creation_text
from .delivery import delivery_session
from .executor import HostExecutor
from .file_access import MediaRefused, owner_media_access
from .targets import TargetResolver
from .wake import WakeGate

if TYPE_CHECKING:
    from astrbot.api.star import Context

PLUGIN_NAME = "astrbot_plugin_future_tasks"
DB_FILE = "future_tasks.db"
SKIP_ENV = "FUTURE_TASKS_SKIP_CRON"
ROUTE_CACHE_SIZE = 10_000
"""Users whose last route is remembered in memory (to skip unchanged writes)."""


def _registry() -> dict[str, Engine]:
    """Engines running in this process, by database path. It lives outside the plugin's
    modules, which a reload replaces, so a reload can never leave two timers running."""
    name = "_astrbot_future_tasks_engines"
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        module.engines = {}  # type: ignore[attr-defined]
        sys.modules[name] = module
    return module.engines  # type: ignore[attr-defined,no-any-return]


def load_settings(context: Context, config: Mapping[str, Any] | None) -> Settings:
    host_tz = ""
    try:
        host_tz = str(context.get_config().get("timezone") or "")
    except Exception:  # an odd host config must not stop the plugin
        host_tz = ""
    return Settings.from_mapping(dict(config or {}), host_timezone=host_tz)


def database_path(settings: Settings, data_dir: Path) -> Path:
    if settings.database_path.strip():
        return Path(settings.database_path.strip()).expanduser()
    return data_dir / DB_FILE


class Runtime:
    """The plugin's running parts; ``error`` says why the scheduler is not running."""

    def __init__(self, context: Context, settings: Settings, db_path: Path) -> None:
        self.context = context
        self.settings = settings
        self.store = Store(db_path)
        self.agents = AgentRunner(context, settings, self.store)
        self.executor = HostExecutor(context, settings, self.store, agents=self.agents)
        self.engine = Engine(self.store, self.executor, settings, alert=self.executor.alert)
        self.targets = TargetResolver(context)
        self.service = TaskService(
            self.store,
            self.engine,
            settings,
            resolve_target=self.targets.resolve,
            check_media=self.check_media,
            provider_ids=self.provider_ids,
        )
        self.wakes = WakeGate(settings, self.store, self.engine.agent_slots)
        self.opened = False
        self.error: str | None = None
        self._routes: OrderedDict[str, str] = OrderedDict()  # recently used first out
        self._heartbeat: asyncio.Task[None] | None = None

    def check_media(self, origin: str, sender_id: str, media: list[str]) -> None:
        """A job's media, judged for its owner by AstrBot's file rule (at creation)."""
        try:
            owner_media_access(self.context, origin, sender_id).check_all(media)
        except MediaRefused as exc:
            raise UserError(str(exc)) from None

    def provider_ids(self) -> list[str]:
        """The chat providers AstrBot has loaded, for checking a task's ``model``."""
        ids = []
        for provider in self.context.get_all_providers():
            try:
                ids.append(str(provider.meta().id))
            except Exception:  # a provider without metadata can not be chosen by id
                continue
        return ids

    async def open(self) -> None:
        """Open the database; a file that cannot be read leaves the plugin idle, not broken."""
        try:
            await self.store.open()
            self.opened = True
        except StoreError as exc:
            self.error = str(exc)
            self.engine.off_reason = f"database error: {exc}"

    async def start(self) -> None:
        """Start firing (idempotent). Stops any engine a previous load left on this file."""
        if not self.opened or self.engine.started:
            return
        key = str(self.store.path.resolve())
        previous = _registry().pop(key, None)
        if previous is not None and previous is not self.engine:
            await previous.stop()
        try:
            await self.engine.start(skip_cron=os.environ.get(SKIP_ENV, "").strip() == "1")
        except StoreError as exc:
            self.error = str(exc)
        if self.engine.started:
            _registry()[key] = self.engine
            self.start_heartbeat()

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        key = str(self.store.path.resolve())
        if _registry().get(key) is self.engine:
            del _registry()[key]
        await self.engine.stop()
        await self.store.close()

    async def creation_reply(self, job: Job) -> str:
        """The reply to a new job, with a note when its platform cannot push reliably."""
        notes = []
        if (job.target.channel or "").lower() != "last":
            warning = self.targets.push_warning(await delivery_session(job, self.store))
            if warning:
                notes.append(warning)
        if not self.engine.started:
            off = chat_safe(self.engine.off_reason)  # the full reason: /cron status, the log
            notes.append(f"note: the scheduler is off ({off}); it will not fire")
        return creation_text(job, notes)

    async def remember_route(self, actor: Actor) -> None:
        """Record where the bot last talked with this user (written only when it changes)."""
        if not self.opened:
            return
        if self._routes.get(actor.key) == actor.origin:
            self._routes.move_to_end(actor.key)
            return
        self._routes[actor.key] = actor.origin
        self._routes.move_to_end(actor.key)
        while len(self._routes) > ROUTE_CACHE_SIZE:  # bounded: the database has them all
            self._routes.popitem(last=False)
        await self.store.set_route(actor.key, actor.origin, self.engine.clock.now_ms())

    async def wake(self, actor: Actor, text: str, next_heartbeat: bool) -> str:
        """A main-session event now, without a job (OpenClaw's ``system event``)."""
        refusal = await self.wakes.refusal(actor, text)
        if refusal:
            return f"Error: {refusal}"
        text = text.strip()
        now = self.engine.clock.now_ms()
        if next_heartbeat and self.settings.heartbeat_minutes > 0:
            await self.store.add_pending_event(actor.origin, None, text, now)
            return f"Queued for the next heartbeat (every {self.settings.heartbeat_minutes} min)."
        owner = Owner(origin=actor.origin, sender_id=actor.sender_id, sender_name=actor.sender_name)
        timeout = max(1, self.settings.agent_timeout_seconds)
        try:
            async with self.wakes.running(actor), asyncio.timeout(timeout):
                outcome = await self.agents.wake(owner, text)
        except TimeoutError:
            return f"Error: the event was not handled within {timeout} s"
        if outcome.ok:
            sent = outcome.delivery in (Delivery.DELIVERED, Delivery.UNKNOWN)
            return "" if sent else "The event was handled."
        error = outcome.error if actor.is_admin else chat_safe(outcome.error)
        return f"Error: the event could not be handled: {error}"

    def start_heartbeat(self) -> None:
        """Wake main conversations every ``heartbeat_minutes`` to deliver waiting events."""
        if self.settings.heartbeat_minutes > 0 and self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat(), name="future-tasks-heartbeat")

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_minutes * 60)
            try:
                await self.agents.heartbeat()
            except Exception as exc:  # the next beat tries again
                self.engine.last_error = f"heartbeat: {exc}"
