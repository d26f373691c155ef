"""JSON views of jobs, runs and the scheduler status, and the checks on what a JSON
request may contain, for the web API (SPEC §8.3).

Pure functions with no AstrBot imports. Requests are checked field by field (names and
JSON types) *before* anything is built from them, so a body the service would not
understand is refused with a message instead of reaching the store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import request_fields
from .errors import UserError
from .models import Job, Run, RunStatus
from .present import duration_words, schedule_words, state_words, target_words
from .schedule import MS, ScheduleError, format_local, ms_to_local
from .service import MAX_LIST_LIMIT, JobChanges, JobSpec
from .store import owner_key

DEFAULT_JOB_LIMIT = 50
DEFAULT_RUN_LIMIT = 20
MAX_SHORT_TEXT = 256  # ids, zones, names of providers, sessions: never longer than this
MAX_QUERY_TEXT = 200

_STR = "a string"
_BOOL = "true or false"
_INT = "a whole number"
_MEDIA = "a list of strings (paths or URLs)"

_KINDS = {"string": _STR, "boolean": _BOOL, "integer": _INT, "array": _MEDIA}


def _body_types(edit: bool) -> dict[str, str]:
    """The request fields a body may name (core/request_fields.py) and the JSON type each
    must have (null = not given)."""
    fields = request_fields.web_fields(edit)
    return {name: _KINDS[schema["type"]] for name, schema in fields.items()}


_LONG_TEXT = {"message"}  # its length limit is the service's (max_message_chars)
CREATE_FIELDS: dict[str, str] = {
    **_body_types(edit=False),
    "session": _STR,
    "owner_id": _STR,
    "owner_name": _STR,
}
EDIT_FIELDS: dict[str, str] = _body_types(edit=True)

SESSION_FORM = "platform:MessageType:id, e.g. onebot:FriendMessage:12345"
_SESSION = re.compile(r"^[^\s:]+:(FriendMessage|GroupMessage|OtherMessage):\S+$")
DASHBOARD_OWNER = "dashboard"


# ----- views -------------------------------------------------------------------------------


def local_time(at_ms: int | None, tz: str) -> str | None:
    """``2026-01-12 18:00:00 CST (Asia/Shanghai)``, or None for no time."""
    if at_ms is None:
        return None
    try:
        return format_local(at_ms, tz)
    except (ScheduleError, OverflowError, OSError, ValueError):
        return format_local(at_ms, "UTC")


def iso_time(at_ms: int | None, tz: str = "UTC") -> str | None:
    """``2026-01-12T18:00:00+08:00``: the instant in ISO 8601, in ``tz`` when it is known."""
    if at_ms is None:
        return None
    try:
        return ms_to_local(at_ms, tz).isoformat(timespec="seconds")
    except (ScheduleError, OverflowError, OSError, ValueError):
        return datetime.fromtimestamp(at_ms / MS, UTC).isoformat(timespec="seconds")


def _words(job: Job, describe: Any) -> str:
    try:
        return str(describe(job))
    except (ScheduleError, AssertionError, OverflowError, OSError, ValueError):
        return ""


def job_view(job: Job) -> dict[str, Any]:
    """Everything a page needs about one job; times in ms (UTC) plus the job's local time."""
    schedule = job.schedule
    tz = schedule.tz
    return {
        "id": job.id,
        "name": job.name,
        "display_name": job.display_name,
        "owner": {
            "origin": job.owner.origin,
            "sender_id": job.owner.sender_id,
            "sender_name": job.owner.sender_name,
            "key": owner_key(job.owner.origin, job.owner.sender_id),
        },
        "mode": job.payload.mode.value,
        "message": job.payload.message,
        "media": list(job.payload.media),
        "provider_id": job.payload.provider_id,
        "persona_id": job.payload.persona_id,
        "timeout_seconds": job.payload.timeout_seconds,
        "wake_mode": job.payload.wake_mode,
        "post_prefix": job.payload.post_prefix,
        "schedule": {
            "kind": schedule.kind.value,
            "text": schedule.text,
            "words": _words(job, schedule_words),
            "expr": schedule.expr,
            "every_ms": schedule.every_ms,
            "every": duration_words(schedule.every_ms) if schedule.every_ms else None,
            "anchor_ms": schedule.anchor_ms,
            "at": schedule.at_ms,
            "at_local": local_time(schedule.at_ms, tz),
            "tz": tz,
        },
        "target": {
            "deliver": job.target.deliver,
            "channel": job.target.channel,
            "to": job.target.to,
            "best_effort": job.target.best_effort,
            "session": job.target.session,
            "words": target_words(job),
        },
        "catch_up": job.catch_up.value,
        "delete_after_run": job.delete_after_run,
        "enabled": job.enabled,
        "running": job.running_run_id is not None,
        "running_run_id": job.running_run_id,
        "state": _words(job, state_words),
        "next_run_at": job.next_run_at if job.enabled else None,
        "next_run_local": local_time(job.next_run_at, tz) if job.enabled else None,
        "last_run_at": job.last_run_at,
        "last_run_local": local_time(job.last_run_at, tz),
        "last_status": job.last_status,
        "last_error": job.last_error,
        "last_delivery": job.last_delivery,
        "consecutive_errors": job.consecutive_errors,
        "created_at": job.created_at,
        "created_local": local_time(job.created_at, tz),
        "updated_at": job.updated_at,
        "updated_local": local_time(job.updated_at, tz),
    }


def run_view(run: Run, tz: str) -> dict[str, Any]:
    """One run of a job; times in ms (UTC) plus local time in ``tz`` (the job's zone)."""
    return {
        "run_id": run.run_id,
        "job_id": run.job_id,
        "trigger": run.trigger.value,
        "status": run.status.value,
        "delivery": run.delivery.value,
        "late": run.late,
        "slot_at": run.slot_at,
        "slot_local": local_time(run.slot_at, tz),
        "started_at": run.started_at,
        "started_local": local_time(run.started_at, tz),
        "ended_at": run.ended_at,
        "ended_local": local_time(run.ended_at, tz),
        "duration_ms": (run.ended_at - run.started_at) if run.ended_at is not None else None,
        "output": run.output,
        "error": run.error,
    }


def status_view(status: Mapping[str, Any], timezone: str) -> dict[str, Any]:
    """The service's status dict plus the default zone and the next wake-up as ISO/local."""
    view = dict(status)
    wake = view.get("next_wake_at")
    view["next_wake_iso"] = iso_time(wake, timezone)
    view["next_wake_local"] = local_time(wake, timezone)
    view["timezone"] = timezone
    return view


# ----- requests ----------------------------------------------------------------------------


@dataclass(slots=True)
class CreateRequest:
    """A checked ``POST /jobs`` body: what to create, in which session, for whom."""

    spec: JobSpec
    session: str
    owner_id: str
    owner_name: str


def _check_type(key: str, value: Any, kind: str) -> Any:
    """``value`` if it has the JSON type ``kind``; a UserError naming the field otherwise."""
    ok = False
    if kind == _STR:
        ok = isinstance(value, str)
        if ok and key not in _LONG_TEXT and len(value) > MAX_SHORT_TEXT:
            raise UserError(f"{key} is longer than {MAX_SHORT_TEXT} characters")
    elif kind == _BOOL:
        ok = isinstance(value, bool)
    elif kind == _INT:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok and isinstance(value, float) and value.is_integer():
            value, ok = int(value), True
    elif kind == _MEDIA:
        ok = isinstance(value, list) and all(isinstance(i, str) for i in value)
        if isinstance(value, str):
            value, ok = [value], True
        if ok and any(len(i) > 2048 for i in value):
            raise UserError("a media entry is longer than 2048 characters")
    if not ok:
        raise UserError(f"{key} must be {kind}, not {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _checked(body: Any, allowed: Mapping[str, str]) -> dict[str, Any]:
    """The body's fields with their types checked; null values are dropped (not given)."""
    if not isinstance(body, dict):
        raise UserError(f"the body must be a JSON object, not {_json_type(body)}")
    unknown = [str(k) for k in body if k not in allowed]
    if unknown:
        raise UserError(
            f"unknown field {unknown[0][:40]!r}; known fields: {', '.join(sorted(allowed))}"
        )
    return {k: _check_type(k, v, allowed[k]) for k, v in body.items() if v is not None}


def check_session(session: Any) -> str:
    """A ``platform:MessageType:id`` session id, or a UserError saying the form."""
    if not isinstance(session, str) or not session.strip():
        raise UserError(
            f"session is required: the chat the task belongs to and is delivered to ({SESSION_FORM})"
        )
    text = session.strip()
    if (
        len(text) > MAX_SHORT_TEXT
        or not _SESSION.match(text)
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in text)
    ):
        raise UserError(f"session {text[:60]!r} is not a session id; use {SESSION_FORM}")
    return text


def parse_create(body: Any) -> CreateRequest:
    """A ``POST /jobs`` body: JobSpec fields plus ``session`` and optional ``owner_id``."""
    values = _checked(body, CREATE_FIELDS)
    session = check_session(values.pop("session", None))
    owner_id = str(values.pop("owner_id", "") or "").strip() or DASHBOARD_OWNER
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in owner_id):
        raise UserError("owner_id is the user's id on the platform, without spaces")
    owner_name = str(values.pop("owner_name", "") or "").strip()
    if not owner_name and owner_id == DASHBOARD_OWNER:
        owner_name = "WebUI"
    return CreateRequest(JobSpec.from_mapping(values), session, owner_id, owner_name)


def parse_changes(body: Any) -> JobChanges:
    """A ``PATCH /jobs/<id>`` body: any JobChanges field, ``enabled`` included."""
    values = _checked(body, EDIT_FIELDS)
    if not values:
        raise UserError(f"nothing to change; give at least one of {', '.join(sorted(EDIT_FIELDS))}")
    return JobChanges.from_mapping(values)


def _query_int(query: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    raw = query.get(key)
    if raw is None or str(raw).strip() == "":
        return default
    text = str(raw).strip()
    if not re.fullmatch(r"-?\d{1,9}", text):
        raise UserError(f"{key} must be a whole number, not {text[:20]!r}")
    value = int(text)
    if value < low:
        raise UserError(f"{key} must be at least {low}")
    return min(value, high)


def parse_bool(raw: Any, key: str) -> bool | None:
    """``true``/``false`` (also 1/0, yes/no); None when absent or empty."""
    if raw is None:
        return None
    text = str(raw).strip().lower()
    if text == "":
        return None
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise UserError(f"{key} must be true or false, not {text[:20]!r}")


def parse_list_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /jobs`` query: q, enabled, owner (``platform:sender_id``), limit, offset."""
    q = str(query.get("q") or "").strip()
    if len(q) > MAX_QUERY_TEXT:
        raise UserError(f"q is longer than {MAX_QUERY_TEXT} characters")
    owner = str(query.get("owner") or "").strip()
    if owner and (len(owner) > MAX_SHORT_TEXT or ":" not in owner.strip(":")):
        raise UserError("owner is an owner key platform:sender_id, e.g. onebot:12345")
    return {
        "query": q or None,
        "enabled": parse_bool(query.get("enabled"), "enabled"),
        "owner": owner or None,
        "limit": _query_int(query, "limit", DEFAULT_JOB_LIMIT, 1, MAX_LIST_LIMIT),
        "offset": _query_int(query, "offset", 0, 0, 10**9),
    }


def parse_runs_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /jobs/<id>/runs`` query: limit, offset, status (a run status)."""
    status = str(query.get("status") or "").strip().lower()
    if status and status not in {s.value for s in RunStatus}:
        names = ", ".join(s.value for s in RunStatus)
        raise UserError(f"unknown status {status[:20]!r}; use one of {names}")
    return {
        "status": status or None,
        "limit": _query_int(query, "limit", DEFAULT_RUN_LIMIT, 1, MAX_LIST_LIMIT),
        "offset": _query_int(query, "offset", 0, 0, 10**9),
    }
