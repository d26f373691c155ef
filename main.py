"""astrbot_plugin_future_tasks: scheduled reminders and proactive agent runs for AstrBot.

This file only wires AstrBot's life cycle to the plugin's runtime; the scheduling logic
lives in ``core/`` (no AstrBot imports) and the AstrBot side in ``host/``.
"""

from __future__ import annotations

from astrbot.api import AstrBotConfig, logger
from astrbot.api.event import filter
from astrbot.api.star import Context, Star, StarTools

from .host.runtime import PLUGIN_NAME, Runtime, database_path, load_settings


class FutureTasksPlugin(Star):
    def __init__(self, context: Context, config: AstrBotConfig | None = None) -> None:
        super().__init__(context)
        self.config = config
        self.settings = load_settings(context, config)
        data_dir = StarTools.get_data_dir(PLUGIN_NAME)
        self.runtime = Runtime(context, self.settings, database_path(self.settings, data_dir))

    @property
    def service(self):
        return self.runtime.service

    @property
    def engine(self):
        return self.runtime.engine

    async def initialize(self) -> None:
        await self.runtime.open()
        if self.runtime.error:
            logger.error(f"[future tasks] the scheduler will not start: {self.runtime.error}")
            return
        if _platforms_loaded(self.context):  # a reload while AstrBot runs: start right away
            await self._start()

    @filter.on_astrbot_loaded()
    async def on_astrbot_loaded(self) -> None:
        await self._start()

    async def _start(self) -> None:
        await self.runtime.start()
        engine = self.runtime.engine
        if engine.started:
            logger.info(f"[future tasks] scheduler started, database {self.runtime.store.path}")
        elif engine.off_reason:
            logger.warning(f"[future tasks] scheduler is off: {engine.off_reason}")

    async def terminate(self) -> None:
        await self.runtime.stop()
        logger.info("[future tasks] scheduler stopped")


def _platforms_loaded(context: Context) -> bool:
    manager = getattr(context, "platform_manager", None)
    return bool(manager and getattr(manager, "platform_insts", None))
