"""Build what a run sends: text plus media, as an AstrBot MessageChain."""

from __future__ import annotations

from pathlib import PurePath

import astrbot.api.message_components as Comp
from astrbot.api.event import MessageChain

_IMAGE = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"}
_AUDIO = {".mp3", ".wav", ".ogg", ".silk", ".amr", ".m4a", ".flac"}
_VIDEO = {".mp4", ".mov", ".mkv", ".webm", ".avi"}


def is_image(source: str) -> bool:
    """Whether a media path or URL names an image (by its extension)."""
    return PurePath(source.split("?", 1)[0]).suffix.lower() in _IMAGE


def media_component(source: str) -> Comp.BaseMessageComponent:
    """An Image / Record / Video / File component for a path or URL, by its extension."""
    is_url = source.startswith(("http://", "https://"))
    suffix = PurePath(source.split("?", 1)[0]).suffix.lower()
    if is_image(source):
        return Comp.Image.fromURL(source) if is_url else Comp.Image.fromFileSystem(source)
    if suffix in _AUDIO:
        return Comp.Record.fromURL(source) if is_url else Comp.Record.fromFileSystem(source)
    if suffix in _VIDEO:
        return Comp.Video.fromURL(source) if is_url else Comp.Video.fromFileSystem(source)
    name = PurePath(source.split("?", 1)[0]).name or "file"
    return Comp.File(name=name, url=source) if is_url else Comp.File(name=name, file=source)


def build_chain(text: str, media: list[str]) -> MessageChain:
    chain = MessageChain()
    if text:
        chain.message(text)
    for source in media:
        chain.chain.append(media_component(source))
    return chain
