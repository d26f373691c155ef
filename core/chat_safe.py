"""Failure texts as a member may read them in chat: one line, no server details.

Upstream errors carry URLs, host names, API keys, file paths and stack traces; a
member's chat is no place for any of them (SPEC §7). The full text stays in the run
history, where admins and the dashboard read it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .models import Job, Run

CHAT_ERROR_CHARS = 200

_STACK = re.compile(r"Traceback \(most recent call last\).*", re.DOTALL)
_FRAME = re.compile(r'File "[^"]*", line \d+(, in \S+)?')
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S+")
_KEY = re.compile(
    r"\b(?:sk|pk|rk|ak|key|token|bearer)[-_ :=]+[A-Za-z0-9._\-]{6,}|\b[A-Za-z0-9_\-]{32,}\b",
    re.IGNORECASE,
)
_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\[[0-9A-Fa-f:]+\](?::\d+)?")
_HOST = re.compile(
    r"\b(?:[A-Za-z0-9-]+\.)+(?:com|net|org|io|ai|cn|dev|app|cloud|co|me|xyz|local|internal|"
    r"lan|localhost)(?::\d+)?\b|\blocalhost(?::\d+)?\b",
    re.IGNORECASE,
)
_PATH = re.compile(r"(?<![\w.])(?:/[\w.@+-]+){2,}/?|\b[A-Za-z]:\\[^\s]+")


def chat_safe(text: str | None, limit: int = CHAT_ERROR_CHARS) -> str:
    """``text`` as one line without URLs, hosts, keys, paths or stack text, at most
    ``limit`` characters."""
    cleaned = _STACK.sub(" ", str(text or ""))
    cleaned = _FRAME.sub(" ", cleaned)
    cleaned = _URL.sub("<url>", cleaned)
    cleaned = _KEY.sub("<key>", cleaned)
    cleaned = _IP.sub("<host>", cleaned)
    cleaned = _HOST.sub("<host>", cleaned)
    cleaned = _PATH.sub("<path>", cleaned)
    line = " ".join(cleaned.split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


def runs_seen_by(runs: Sequence[Run], is_admin: bool) -> list[Run]:
    """Runs as a chat shows them: admins read the full errors, members the safe line."""
    if is_admin:
        return list(runs)
    return [r.model_copy(update={"error": chat_safe(r.error)}) if r.error else r for r in runs]


def job_seen_by(job: Job, is_admin: bool) -> Job:
    """A job as a chat shows it: a member reads its last error as the safe line."""
    if is_admin or not job.last_error:
        return job
    return job.model_copy(update={"last_error": chat_safe(job.last_error)})
