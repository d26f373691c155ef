"""Settings read from AstrBot's plugin config: defaults, fallbacks, bad values."""

from __future__ import annotations

from core.settings import Settings


def test_defaults_match_the_spec():
    cfg = Settings()
    assert (cfg.max_jobs_per_user, cfg.min_interval_seconds, cfg.max_concurrent_runs) == (20, 60, 2)
    assert (cfg.run_history_keep, cfg.failure_alert_after, cfg.catch_up_window_ms) == (
        200,
        2,
        24 * 3_600_000,
    )
    assert cfg.timezone == "UTC"


def test_zone_falls_back_from_plugin_to_host_to_utc():
    assert Settings(host_timezone="Asia/Shanghai").timezone == "Asia/Shanghai"
    assert Settings(default_timezone="Europe/Berlin", host_timezone="Asia/Shanghai").timezone == (
        "Europe/Berlin"
    )


def test_from_mapping_ignores_unknown_keys_and_bad_values():
    cfg = Settings.from_mapping(
        {"max_jobs_per_user": "7", "min_interval_seconds": "soon", "colour": "red"},
        host_timezone="UTC",
    )
    assert cfg.max_jobs_per_user == 7 and cfg.min_interval_seconds == 60
