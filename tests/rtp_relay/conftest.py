"""Fixtures for the relay tests: relays in-process, UDP peers on loopback, a bus client.

The session's shared ``nats_server`` comes from ``tests/conftest.py``; these tests use core NATS
only (distinct subjects per relay), never JetStream assets of the shared server.
"""

from __future__ import annotations

import asyncio
import random
import struct
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from libs.bus import Bus
from libs.config import NatsSettings
from libs.platform.natsd import NatsServer
from services.rtp_relay.config import MediaSettings, RtpRelaySettings
from services.rtp_relay.control import RelayControl

RTP = struct.Struct("!BBHII")


def rtp(seq: int, ts: int, *, ssrc: int = 0x1234, pt: int = 0, payload: bytes = b"") -> bytes:
    """An RTP packet (RFC 3550 §5.1), 172 bytes by default (G.711, 20 ms)."""
    return RTP.pack(0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + (payload or bytes(160))


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:
    """The client side (what sip_core would hold)."""
    bus = await Bus.connect(nats_server.url, name="tests-sip-core", request_timeout=2.0)
    try:
        yield bus
    finally:
        await bus.close()


def port_range(pairs: int) -> tuple[int, int]:
    """A random even-based range below the ephemeral ports (32768+) and above the embedded
    platform's 20000-29999, so parallel suites rarely meet; a port someone holds is skipped."""
    base = random.randrange(30000, 32700 - 2 * pairs, 2)
    return base, base + 2 * pairs - 1


RelayFactory = Callable[..., Awaitable[RelayControl]]


@pytest.fixture
async def start_relay(nats_server: NatsServer) -> AsyncIterator[RelayFactory]:
    """Start relays in-process on the test nats-server: ``await start_relay(pairs=8, ...)``.

    Keyword arguments other than ``pairs``/``draining`` go to :class:`MediaSettings`.
    """
    started: list[tuple[RelayControl, Bus]] = []

    async def start(
        *, pairs: int = 8, draining: Callable[[], bool] = lambda: False, **media: Any
    ) -> RelayControl:
        port_min, port_max = port_range(pairs)
        settings = RtpRelaySettings(
            node_id=f"relay-{uuid.uuid4().hex[:8]}",
            zone="test-zone",
            nats=NatsSettings(servers=[nats_server.url]),
            media=MediaSettings(
                port_min=port_min, port_max=port_max, **{"host": "127.0.0.1", **media}
            ),
        )
        relay_bus = await Bus.connect(nats_server.url, name=settings.node_id)
        control = RelayControl(settings, draining=draining)
        await control.start(relay_bus)
        started.append((control, relay_bus))
        return control

    try:
        yield start
    finally:
        for control, relay_bus in started:
            await control.stop()
            await relay_bus.close()


class Peer(asyncio.DatagramProtocol):
    """A UDP endpoint on loopback playing a phone or a carrier's media server."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait((data, addr))

    @property
    def ip(self) -> str:
        assert self.transport is not None
        return str(self.transport.get_extra_info("sockname")[0])

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, data: bytes, port: int, host: str = "127.0.0.1") -> None:
        assert self.transport is not None
        self.transport.sendto(data, (host, port))

    async def recv(self, timeout: float = 2.0) -> tuple[bytes, tuple[str, int]]:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def recv_all(self, count: int, timeout: float = 3.0) -> list[bytes]:
        return [(await self.recv(timeout))[0] for _ in range(count)]

    async def silent(self, wait: float = 0.3) -> bool:
        """True if nothing arrives within ``wait`` seconds."""
        try:
            await asyncio.wait_for(self.queue.get(), wait)
        except TimeoutError:
            return True
        return False


PeerFactory = Callable[..., Awaitable[Peer]]


@pytest.fixture
async def open_peer() -> AsyncIterator[PeerFactory]:
    """``await open_peer()`` binds a UDP peer on 127.0.0.1 (or ``host=``), any free port."""
    peers: list[Peer] = []

    async def open_(host: str = "127.0.0.1") -> Peer:
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_datagram_endpoint(Peer, local_addr=(host, 0))
        peers.append(peer)
        return peer

    try:
        yield open_
    finally:
        for peer in peers:
            if peer.transport is not None:
                peer.transport.close()
