"""Which local files a task may send: AstrBot's own rule, for the run's role.

AstrBot's ``send_message_to_user`` (``astrbot/core/tools/message_tools.py``) lets every
role send files from the chat's workspace and AstrBot's temp folders, and anything else
only where ``computer_use_local_permissions`` gives the role the ``host`` file scope (by
default: admins). The plugin follows the same rule at every point where media enters a
task: the in-run ``send_message_to_user``, media given when a task is created or edited,
and a reminder's media when it fires. The role of a run is its job owner's: admin when
the owner's sender id is in AstrBot's ``admins_id``.

Paths are judged on their resolved real path (``..`` and symlinks followed), relative
paths are read inside the chat's workspace (as AstrBot does), URLs must be http(s).
A refusal names the places that are allowed and never says whether a refused path
exists.

The rule itself (``MediaAccess.check``) needs no AstrBot; ``media_access_for`` reads
AstrBot's settings and folders to build one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HTTP = ("http://", "https://")


class MediaRefused(ValueError):
    """A media source the run may not send; the message is safe to show the model."""


@dataclass(frozen=True, slots=True)
class MediaAccess:
    """Where one run's local files may come from."""

    role: str  # "admin" or "member"
    workspace: Path  # the chat's workspace: relative paths are read here
    roots: tuple[Path, ...]  # resolved folders any role may send from
    anywhere: bool = False  # the role has AstrBot's ``host`` file scope

    def check(self, source: str) -> str:
        """The source to send: an http(s) URL as given, or the real path of an allowed,
        existing file. Raises MediaRefused saying what is allowed."""
        text = str(source or "").strip()
        if not text:
            raise MediaRefused("an attachment is empty; give a file path or an http(s) URL")
        if text.lower().startswith(_HTTP):
            return text
        if _SCHEME.match(text) and not _looks_like_windows_drive(text):
            raise MediaRefused(
                f"{_short(text)} is not an http(s) URL; only http:// and https:// links "
                "and local files can be sent"
            )
        real = self.real_path(text)
        if not (self.anywhere or _within(real, self.roots)):
            raise MediaRefused(
                f"{_short(text)} is outside the places this task may send files from. "
                f"{self.allowed_places()}"
            )
        if not real.is_file():
            raise MediaRefused(f"no such file: {_short(text)}. {self.allowed_places()}")
        return str(real)

    def check_all(self, sources: Iterable[str]) -> list[str]:
        return [self.check(source) for source in sources]

    def real_path(self, text: str) -> Path:
        """``text`` resolved: ``~`` expanded, relative to the workspace, symlinks and
        ``..`` followed (a path that does not exist resolves as far as it can)."""
        path = Path(os.path.expanduser(text))
        if not path.is_absolute():
            path = self.workspace / path
        return Path(os.path.realpath(path))

    def allowed_places(self) -> str:
        if self.anywhere:
            return "This role may send any file the bot can read, and http(s) URLs."
        places = ", ".join(str(root) for root in self.roots)
        return (
            f"Files can be sent only from: {places} (a relative path is read in the chat's "
            f"workspace, {self.workspace}), or as http(s) URLs. Ask an admin to send other files."
        )


def _within(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _looks_like_windows_drive(text: str) -> bool:
    return os.name == "nt" and len(text) > 2 and text[1] == ":" and text[2] in "\\/"


def _short(text: str) -> str:
    return repr(text if len(text) <= 120 else text[:117] + "...")


# ----- AstrBot's side -----------------------------------------------------------------------


def is_admin_sender(context: Any, sender_id: str, umo: str | None = None) -> bool:
    """Is ``sender_id`` one of AstrBot's admins (``admins_id`` of the chat's config)?"""
    config = _config(context, umo)
    try:
        admins = {str(a) for a in config.get("admins_id", []) or []}
    except Exception:
        return False
    return str(sender_id) in admins


def media_access_for(context: Any, umo: str, role: str) -> MediaAccess:
    """The rule AstrBot's own send tool applies to ``role`` in chat ``umo``."""
    from astrbot.core.config.default import get_local_permission_defaults
    from astrbot.core.tools.computer_tools.util import workspace_root
    from astrbot.core.utils.astrbot_path import (
        get_astrbot_system_tmp_path,
        get_astrbot_temp_path,
    )

    role = "admin" if role == "admin" else "member"
    settings = _config(context, umo).get("provider_settings", {}) or {}
    permissions = settings.get("computer_use_local_permissions")
    policy = permissions.get(role) if isinstance(permissions, dict) else None
    scope = (policy or {}).get("filesystem_scope") if isinstance(policy, dict) else None
    if scope not in ("none", "workspace", "host"):
        scope = get_local_permission_defaults()[role]["filesystem_scope"]
    workspace = workspace_root(umo)
    roots = (
        workspace,
        Path(get_astrbot_temp_path()).resolve(strict=False),
        Path(get_astrbot_system_tmp_path()).resolve(strict=False),
    )
    return MediaAccess(role=role, workspace=workspace, roots=roots, anywhere=scope == "host")


def owner_media_access(context: Any, origin: str, sender_id: str) -> MediaAccess:
    """The rule for a job owned by ``sender_id`` in chat ``origin``."""
    role = "admin" if is_admin_sender(context, sender_id, origin) else "member"
    return media_access_for(context, origin, role)


def _config(context: Any, umo: str | None) -> Any:
    try:
        return context.get_config(umo=umo) if umo else context.get_config()
    except Exception:  # an unknown session falls back to the default config
        return context.get_config()
