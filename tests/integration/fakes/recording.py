"""Waiting on what a fake peer has recorded, shared by the OneBot and Telegram fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence


async def wait_for_record[T](
    records: Sequence[T],
    changed: asyncio.Condition,
    predicate: Callable[[T], bool],
    *,
    timeout: float,
    since: int,
    describe: Callable[[Sequence[T]], str],
) -> T:
    """The first record from index ``since`` that matches ``predicate``.

    Records already there count, so there is no race between triggering something and
    starting to wait. ``changed`` is notified whenever a record is appended. On timeout,
    the TimeoutError says what did arrive (``describe`` of the records since ``since``).
    """
    checked = since

    def scan() -> T | None:
        nonlocal checked
        while checked < len(records):
            record = records[checked]
            checked += 1
            if predicate(record):
                return record
        return None

    try:
        async with asyncio.timeout(timeout), changed:
            while (found := scan()) is None:
                await changed.wait()
            return found
    except TimeoutError:
        raise TimeoutError(
            f"nothing matching within {timeout}s; {describe(records[since:])}"
        ) from None
