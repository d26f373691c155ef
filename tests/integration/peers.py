"""Chat services faked on loopback beyond OneBot and Telegram, each with the AstrBot
platform entry that points the real adapter at it (its own config keys: no patching).

:func:`loopback_peers` is what the in-process harness boots with (one AstrBot for every
integration test), and what a subprocess test passes to
:class:`tests.integration.process.AstrBotProcess`. Add a peer here to boot it everywhere.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.integration.fakes.misskey import FakeMisskey
from tests.integration.fakes.satori import FakeSatori

SATORI_ID = "satori"
MISSKEY_ID = "misskey"
MISSKEY_TOKEN = "mk-token"
SATORI_ADMIN_ID = "30001"
MISSKEY_ADMIN_ID = "40001"


class LoopbackPeer:
    """A fake chat service and the platform entry pointing its AstrBot adapter at it."""

    platform_id = ""
    admins: tuple[str, ...] = ()
    """Platform user ids added to ``admins_id``."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake

    async def start(self) -> None:
        await self.fake.start()

    async def stop(self) -> None:
        await self.fake.stop()

    def platform_config(self) -> dict[str, Any]:
        raise NotImplementedError

    async def wait_ready(self, timeout: float = 30) -> None:
        """The adapter is connected to the fake."""
        await self.fake.wait_connected(timeout)


class SatoriPeer(LoopbackPeer):
    """The ``satori`` platform (id ``satori``) on :class:`FakeSatori`."""

    platform_id = SATORI_ID
    admins = (SATORI_ADMIN_ID,)

    def __init__(self) -> None:
        super().__init__(FakeSatori())

    def platform_config(self) -> dict[str, Any]:
        return {
            "id": SATORI_ID,
            "type": "satori",
            "enable": True,
            "satori_api_base_url": self.fake.api_base_url,
            "satori_endpoint": self.fake.endpoint,
            "satori_token": "",
            "satori_auto_reconnect": True,
            "satori_heartbeat_interval": 10,
            "satori_reconnect_delay": 1,
        }

    async def wait_ready(self, timeout: float = 30) -> None:
        """The adapter identified (READY follows at once unless the test holds it)."""
        await super().wait_ready(timeout)
        async with asyncio.timeout(timeout):
            while not self.fake.identified:
                await asyncio.sleep(0.05)


class MisskeyPeer(LoopbackPeer):
    """The ``misskey`` platform (id ``misskey``) on :class:`FakeMisskey`; ready once the
    adapter knows its account and listens on its main channel."""

    platform_id = MISSKEY_ID
    admins = (MISSKEY_ADMIN_ID,)

    def __init__(self) -> None:
        super().__init__(FakeMisskey())

    def platform_config(self) -> dict[str, Any]:
        return {
            "id": MISSKEY_ID,
            "type": "misskey",
            "enable": True,
            "misskey_instance_url": self.fake.base_url,
            "misskey_token": MISSKEY_TOKEN,
            "misskey_default_visibility": "public",
            "misskey_enable_chat": True,
        }


def loopback_peers() -> list[Any]:
    """A fresh set of every loopback peer (not started)."""
    return [SatoriPeer(), MisskeyPeer()]
