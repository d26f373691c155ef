"""The plugin's settings as the engine and service read them (defaults of SPEC §8.4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(slots=True)
class Settings:
    enabled: bool = True
    default_timezone: str = ""
    host_timezone: str = ""  # AstrBot's own ``timezone`` setting, the next fallback
    allow_members: bool = True
    max_jobs_per_user: int = 20
    min_interval_seconds: int = 60
    max_concurrent_runs: int = 2
    max_messages_per_run: int = 5
    catch_up_default: str = "once"
    catch_up_window_hours: float = 24
    heartbeat_minutes: int = 0
    post_to_main: str = "summary"
    post_to_main_prefix: str = "Cron"
    post_to_main_max_chars: int = 8000
    failure_alert_after: int = 2
    failure_alert_cooldown_minutes: int = 60
    hide_core_future_task: bool = True
    reminder_prefix: str = ""
    run_history_keep: int = 200
    default_provider: str = ""
    default_persona: str = ""
    database_path: str = ""
    reminder_timeout_seconds: int = 60
    agent_timeout_seconds: int = 600
    max_message_chars: int = 8000
    # flood guards for members' tasks (admins exempt; 0 = no limit)
    send_limit_per_owner_per_hour: int = 30
    send_limit_per_chat_per_minute: int = 10
    create_limit_per_owner_per_hour: int = 30
    wake_queue_per_owner: int = 5
    wake_queue_total: int = 100

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], **extra: Any) -> Settings:
        """Settings from a config mapping; unknown keys are ignored, bad values fall back."""
        settings = cls(**extra)
        for field in fields(cls):
            if field.name not in values:
                continue
            default = getattr(settings, field.name)
            try:
                value = type(default)(values[field.name])
            except (TypeError, ValueError):
                continue
            setattr(settings, field.name, value)
        return settings

    @property
    def timezone(self) -> str:
        """The zone for a job that names none: the plugin's, else AstrBot's, else UTC."""
        return self.default_timezone.strip() or self.host_timezone.strip() or "UTC"

    @property
    def catch_up_window_ms(self) -> int:
        return int(self.catch_up_window_hours * 3_600_000)

    @property
    def failure_alert_cooldown_ms(self) -> int:
        return self.failure_alert_cooldown_minutes * 60_000
