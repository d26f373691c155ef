"""Is a failure worth retrying? Rate limits, overload, network trouble, timeouts and 5xx are."""

from __future__ import annotations

import re

_TRANSIENT_TYPES = (TimeoutError, ConnectionError, OSError)
_TRANSIENT_TEXT = re.compile(
    r"\b(429|5\d\d)\b|rate.?limit|too many requests|overload|temporar|timed? ?out|timeout|"
    r"connection|network|unavailable|not ?available|try again|retry.?after|reset by peer|not connected|"
    r"bad gateway|gateway time|internal server error|server error|\bbusy\b",
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
    # The exception's class often says it (NetworkError, TimedOut, RetryAfter) when its
    # text does not ("Bad Gateway").
    kind = "" if isinstance(error, str) else type(error).__name__
    return bool(_TRANSIENT_TEXT.search(f"{kind} {error}"))


_PLATFORM_DOWN_TEXT = re.compile(
    r"not ?connected|api ?not ?available|client is not initiali[sz]ed", re.IGNORECASE
)


def is_platform_down(error: BaseException) -> bool:
    """The platform has no live connection (OneBot's ``ApiNotAvailable``: the QQ side has
    not dialled in yet after a restart; Lark's "IM API client is not initialized" before
    its client is built). Nothing went out, so trying again soon is safe."""
    return bool(_PLATFORM_DOWN_TEXT.search(f"{type(error).__name__} {error}"))
