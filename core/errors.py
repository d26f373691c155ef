"""Errors that carry a message meant for the person (or model) who caused them."""

from __future__ import annotations

import sqlite3


class UserError(ValueError):
    """Bad input: the message says what was wrong and, where it helps, the right form."""


class PermissionDenied(UserError):
    """The caller may not do this; the message says why and what to do instead."""


class NotFound(UserError):
    """No such job, or not one the caller may see (the two are deliberately not told apart)."""


class Conflict(UserError):
    """The request meets a state that does not allow it right now (the task is running,
    the scheduler is off, or it changed meanwhile); trying again later may work."""


class StoreError(RuntimeError):
    """The database cannot be used; the scheduler stops and the file is left untouched."""


class StoreUnavailable(UserError):
    """The database refused a request just now (locked by another program, disk full,
    read-only). SQLite rolled the statement back, so nothing changed; trying again later
    may work. The message says which and what to do."""


_STORE_TROUBLE = (
    (("locked", "busy"), "the task database is locked by another program"),
    (("full",), "the disk holding the task database is full"),
    (("readonly", "read-only"), "the task database is read-only"),
    (("disk i/o",), "the task database could not be read or written (disk I/O error)"),
)
"""SQLite's words for a failure that may pass, and how to say it to a person."""


def store_unavailable(exc: sqlite3.Error) -> StoreUnavailable:
    """The person-readable form of a database failure that may pass."""
    text = str(exc)
    lowered = text.lower()
    what = next((say for keys, say in _STORE_TROUBLE if any(k in lowered for k in keys)), None)
    what = what or f"the task database refused the request ({text})"
    return StoreUnavailable(f"{what}; nothing was changed. Try again in a moment.")
