"""Fixtures for the bus tests: a real nats-server (never a mock) and a connected Bus."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from libs.bus import Bus
from libs.platform.natsd import NatsServer


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One nats-server with JetStream for the session, on a port the server picks itself.

    Started from the main thread on purpose: its PR_SET_PDEATHSIG follows the starting thread.
    """
    server = NatsServer(
        store_dir=tmp_path_factory.mktemp("nats") / "jetstream",
        port=0,
        server_name="tandem-test",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:
    """A Bus on the session's server, whose JetStream holds no stream when the test starts.

    Streams (and so key-value buckets and object stores) left by an earlier test are deleted
    first, so each test provisions what it needs with the settings it wants.
    """
    bus = await Bus.connect(nats_server.url, name="tests", request_timeout=2.0)
    try:
        for info in await bus.js.streams_info():
            assert info.config.name is not None
            await bus.js.delete_stream(info.config.name)
        yield bus
    finally:
        await bus.close()
