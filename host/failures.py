"""Is a failure worth retrying? Rate limits, overload, network trouble, timeouts and 5xx are."""

from __future__ import annotations

import re

_TRANSIENT_TYPES = (TimeoutError, ConnectionError, OSError)
_TRANSIENT_TEXT = re.compile(
    r"\b(429|5\d\d)\b|rate.?limit|too many requests|overload|temporar|timed? ?out|timeout|"
    r"connection|network|unavailable|try again|reset by peer|not connected",
    re.IGNORECASE,
)


def is_transient(error: BaseException | str) -> bool:
    if isinstance(error, _TRANSIENT_TYPES):
        return True
    try:
        import aiohttp

        if isinstance(error, aiohttp.ClientError):
            return True
    except ImportError:  # pragma: no cover - aiohttp ships with AstrBot
        pass
    return bool(_TRANSIENT_TEXT.search(str(error)))
