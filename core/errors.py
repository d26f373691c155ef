"""Errors that carry a message meant for the person (or model) who caused them."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input: the message says what was wrong and, where it helps, the right form."""


class PermissionDenied(UserError):
    """The caller may not do this; the message says why and what to do instead."""


class NotFound(UserError):
    """No such job, or not one the caller may see (the two are deliberately not told apart)."""


class StoreError(RuntimeError):
    """The database cannot be used; the scheduler stops and the file is left untouched."""
