"""A node announces itself while it runs and withdraws the moment it stops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from libs.bus import AssetSettings, Bus, live_nodes, provision
from libs.config import HttpSettings, ServiceSettings
from libs.node import Node
from libs.platform.natsd import NatsServer, free_port


@contextlib.asynccontextmanager
async def idle(_: Node) -> AsyncIterator[None]:
    yield


async def test_presence_is_withdrawn_at_once_when_the_node_stops(tmp_path: Path) -> None:
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        bus = await Bus.connect(server.url, name="observer")
        try:
            # A long TTL: only a withdrawal, not expiry, can remove the entry in time.
            await provision(bus.js, AssetSettings(presence_ttl=60))
            settings = ServiceSettings(
                environment="test", node_id="node-1", zone="z1", nats={"servers": [server.url]}
            )
            node = Node(
                role="rtp_relay",
                settings=settings,
                http=HttpSettings(port=free_port()),
                workload=idle,
                load=lambda: (0.25, {"port_pairs": 4}),
                addresses=dict,
                heartbeat_interval=0.2,
            )
            stop = asyncio.Event()
            running = asyncio.create_task(node.run(stop))

            async def listed() -> bool:
                return any(n.node_id == "node-1" for n in await live_nodes(bus))

            for _ in range(100):
                if await listed():
                    break
                await asyncio.sleep(0.05)
            (entry,) = await live_nodes(bus, role="rtp_relay")
            assert (entry.zone, entry.load) == ("z1", 0.25)

            stop.set()
            await asyncio.wait_for(running, 15)
            assert not await listed()
        finally:
            await bus.close()
