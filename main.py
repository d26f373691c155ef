"""astrbot_plugin_future_tasks: scheduled reminders and proactive agent runs for AstrBot.

This file only wires AstrBot's hooks to the plugin's runtime; the scheduling logic lives
in ``core/`` (no AstrBot imports), the AstrBot side in ``host/`` and the LLM tools in
``tools/``.
"""

from __future__ import annotations

from astrbot.api import AstrBotConfig, logger
from astrbot.api.event import AstrMessageEvent, filter
from astrbot.api.provider import ProviderRequest
from astrbot.api.star import Context, Star, StarTools
from astrbot.core.cron.events import CronMessageEvent

from .host.commands import CronCommands, actor_from_event
from .host.core_tools import hide_core_future_task
from .host.runtime import PLUGIN_NAME, Runtime, database_path, load_settings
from .host.web_api import WebApi
from .tools.future_task_tools import TOOL_NAMES, build_tools, refresh_descriptions


class FutureTasksPlugin(Star):
    def __init__(self, context: Context, config: AstrBotConfig | None = None) -> None:
        super().__init__(context)
        self.config = config
        self.settings = load_settings(context, config)
        data_dir = StarTools.get_data_dir(PLUGIN_NAME)
        self.runtime = Runtime(context, self.settings, database_path(self.settings, data_dir))
        self.commands = CronCommands(self.runtime)
        self.tools = build_tools(self.runtime)
        context.add_llm_tools(*self.tools)
        self.web_api = WebApi(self.runtime)
        self.web_api.register(context)

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

    @filter.command("cron")
    async def cron(self, event: AstrMessageEvent):
        """Scheduled tasks: /cron add <when> <text>, /cron list, /cron help"""
        reply = await self.commands.handle(actor_from_event(event), _command_arguments(event))
        if reply:  # /cron wake answers through the agent itself
            yield event.plain_result(reply)
        event.stop_event()  # a /cron command is never also a chat message for the model

    @filter.after_message_sent()
    async def remember_route(self, event: AstrMessageEvent) -> None:
        """Where the bot last talked with each user: the target of ``channel: last``.

        Learned after the bot answered someone, not from every message: a catch-all
        message handler would wake every group message in AstrBot's pipeline (waking
        check), sending each through rate limiting, media download and speech-to-text."""
        if not isinstance(event, CronMessageEvent):  # the plugin's own runs are no talk
            await self.runtime.remember_route(actor_from_event(event))

    @filter.on_llm_request()
    async def adjust_tools(self, event: AstrMessageEvent, request: ProviderRequest) -> None:
        """Keep the core scheduler's tool away from the model; tell it the time and zone."""
        if self.settings.hide_core_future_task:
            hide_core_future_task(request)
        refresh_descriptions(self.tools, self.runtime)

    async def terminate(self) -> None:
        self.web_api.unregister(self.context)
        for name in TOOL_NAMES:
            self.context.get_llm_tool_manager().remove_func(name)
        await self.runtime.stop()
        logger.info("[future tasks] scheduler stopped")


def _command_arguments(event: AstrMessageEvent) -> str:
    """What follows ``/cron`` in the message, as typed."""
    text = (event.message_str or "").strip().lstrip("/").strip()
    head, _, rest = text.partition(" ")
    return rest if head.lower() == "cron" else text


def _platforms_loaded(context: Context) -> bool:
    manager = getattr(context, "platform_manager", None)
    return bool(manager and getattr(manager, "platform_insts", None))
