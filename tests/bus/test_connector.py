"""BusConnector: a service starts while NATS is down and connects when it comes up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from libs.bus import BusConnector, BusTimeout, BusUnavailable
from libs.platform.natsd import NatsServer, free_port


async def test_connector_connects_once_the_server_comes_up(tmp_path: Path) -> None:
    port = free_port()
    connector = BusConnector(
        f"nats://127.0.0.1:{port}",
        name="late-starter",
        connect_timeout=0.2,
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    server = NatsServer(store_dir=tmp_path, port=port)
    async with connector:
        await asyncio.sleep(0.5)
        assert not connector.connected
        with pytest.raises(BusUnavailable):
            _ = connector.bus
        with pytest.raises(BusTimeout):
            await connector.wait_connected(timeout=0.1)
        # Blocking start from the event loop's (main) thread: see NatsServer's docstring.
        server.start()
        try:
            bus = await connector.wait_connected(timeout=5)
            assert connector.connected
            assert bus is connector.bus
            assert bus.is_connected
        finally:
            await connector.close()
            server.stop()
    assert not connector.connected


async def test_closing_a_connector_that_never_connected(tmp_path: Path) -> None:
    connector = BusConnector(f"nats://127.0.0.1:{free_port()}", name="never", connect_timeout=0.1)
    connector.start()
    await asyncio.sleep(0.2)
    await connector.close()
    assert not connector.connected
