"""The relay's control endpoint on NATS: ``media.relay.<node_id>.<command>`` request/reply.

Each relay listens on its own subjects, so sip_core addresses the one relay it chose from the
presence bucket. The offer/answer/delete/query commands of the media protocol build on this
subscription; ``status`` answers now with the relay's capacity.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from nats.aio.msg import Msg

from libs.bus import Bus
from libs.bus.media import RelayStatus, RelayStatusRequested, relay_subject
from libs.node import Node
from services.rtp_relay.config import RtpRelaySettings

_log = structlog.get_logger(__name__)


class RelayControl:
    def __init__(self, settings: RtpRelaySettings) -> None:
        self.settings = settings
        self.ports_in_use = 0

    @property
    def capacity(self) -> int:
        return self.settings.media.port_pairs

    def status(self) -> RelayStatus:
        return RelayStatus(
            node_id=self.settings.node_id,
            zone=self.settings.zone,
            port_pairs=self.capacity,
            port_pairs_in_use=self.ports_in_use,
        )

    async def _on_status(self, bus: Bus, msg: Msg) -> None:
        RelayStatusRequested.from_bytes(msg.data)
        await bus.respond(msg, self.status())

    @asynccontextmanager
    async def run(self, node: Node) -> AsyncIterator[None]:
        """The relay's workload: subscribe to its control subjects once NATS is reachable."""

        async def subscribe() -> None:
            bus = await node.connector.wait_connected()

            async def handler(msg: Msg) -> None:
                await self._on_status(bus, msg)

            await bus.subscribe(relay_subject(self.settings.node_id, "status"), handler)
            subject = relay_subject(self.settings.node_id, "*")
            _log.info("control subscription bound", subject=subject)

        task = asyncio.create_task(subscribe())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
