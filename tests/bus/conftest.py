"""Fixtures for the bus tests: Buses on real nats-servers (never mocks).

The session's shared ``nats_server`` comes from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from libs.bus import Bus
from libs.platform.natsd import NatsServer


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:
    """A Bus on the session's shared server: for core NATS (publish, request, subscribe).

    Use distinct subjects per test; tests that create or change JetStream assets use
    ``jetstream_bus`` instead.
    """
    bus = await Bus.connect(nats_server.url, name="tests", request_timeout=2.0)
    try:
        yield bus
    finally:
        await bus.close()


@pytest.fixture
async def jetstream_bus(tmp_path: Path) -> AsyncIterator[Bus]:
    """A Bus on a nats-server of its own (port picked by the server), JetStream empty.

    A fresh server (~0.1 s) rather than deleting the streams of the shared one: re-creating a
    stream right after deleting it occasionally fails on a loaded machine ("error creating store
    for stream", err_code 10049).
    """
    with NatsServer(store_dir=tmp_path / "jetstream", port=0, server_name="tandem-test") as server:
        bus = await Bus.connect(server.url, name="tests", request_timeout=2.0)
        try:
            yield bus
        finally:
            await bus.close()
