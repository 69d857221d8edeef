"""Helpers of the security-plane tests: a protected sip_core node, a UDP prober/flooder bound to
a 127.0.0.x address of its own (each address acts as a different host)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from libs.bus import BusConnector
from libs.liveconfig import ConfigView
from libs.liveconfig.models import CONFIG_KINDS, SETTINGS_ID, SettingsConfig
from libs.platform.natsd import free_port
from services.sip_core.b2bua.calls import B2BUA
from services.sip_core.b2bua.policy import Admission, Refusal, Target
from services.sip_core.config import SipSettings
from services.sip_core.protection import KINDS, LiveProtection, Protection
from services.sip_core.sip import Peer, Request, TransactionLayer
from services.sip_core.stack import SipStack
from services.sip_core.transport import SipListeners


class Targets:
    """A test policy: every call to one carrier port on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.target = Target(Peer("UDP", "127.0.0.1", port), f"sip:service@127.0.0.1:{port}")
        self.admitted = 0

    def admit(self, request: Request, source: Peer) -> Admission | Refusal:
        self.admitted += 1
        return Admission(targets=[self.target], caller="sipp", callee="service")

    def release(self, admission: Admission) -> None:
        return None


@dataclass
class ProtectedNode:
    port: int
    protection: Protection
    b2bua: B2BUA
    listeners: SipListeners


@asynccontextmanager
async def protected_node(
    protection: Protection, policy: Targets, host: str = "127.0.0.1"
) -> AsyncIterator[ProtectedNode]:
    stack = SipStack(TransactionLayer())
    port = free_port(host)
    listeners = SipListeners(
        stack.received,
        SipSettings(host=host, udp_port=port, tcp_port=0, tls_port=0),
        gate=protection,
    )
    stack.sender = listeners
    await listeners.start()
    b2bua = B2BUA(
        stack, policy, local_host=host, local_port=port, node_id="t", zone="t",
        cdr_sink=lambda cdr: None,
    )  # fmt: skip
    try:
        yield ProtectedNode(port, protection, b2bua, listeners)
    finally:
        await listeners.stop()
        stack.close()


def options(host: str, port: int, *, user_agent: str = "probe/1.0", user: str = "probe") -> bytes:
    return (
        f"OPTIONS sip:{user}@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
        f"From: <sip:probe@{host}>;tag={uuid.uuid4().hex[:8]}\r\n"
        f"To: <sip:{user}@127.0.0.1>\r\nCall-ID: {uuid.uuid4().hex}\r\n"
        f"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: {user_agent}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


@dataclass
class UdpHost(asyncio.DatagramProtocol):
    """A SIP-speaking host on ``address``: sends OPTIONS and counts the answers."""

    address: str
    answers: int = 0
    last_answer: float = 0.0
    transport: asyncio.DatagramTransport | None = field(default=None, repr=False)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.answers += 1
        self.last_answer = time.monotonic()

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, target: int, data: bytes | None = None) -> None:
        assert self.transport is not None
        self.transport.sendto(data or options(self.address, self.port), ("127.0.0.1", target))

    async def probe(self, target: int, within: float = 0.5) -> bool:
        """One OPTIONS: answered within ``within`` seconds?"""
        before = self.answers
        self.send(target)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.answers > before:
                return True
            await asyncio.sleep(0.005)
        return False

    async def flood(self, target: int, count: int, per_second: float) -> None:
        """``count`` OPTIONS at about ``per_second`` (bounded in count and time)."""
        interval = 1.0 / per_second
        started = time.monotonic()
        for i in range(count):
            self.send(target)
            delay = started + (i + 1) * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif i % 50 == 0:
                await asyncio.sleep(0)


@asynccontextmanager
async def udp_host(address: str) -> AsyncIterator[UdpHost]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: UdpHost(address), local_addr=(address, 0), family=socket.AF_INET
    )
    protocol.transport = transport
    try:
        yield protocol
    finally:
        transport.close()


async def until(predicate: Callable[[], bool], within: float = 10.0, step: float = 0.01) -> float:
    """Wait until ``predicate()``; return the seconds it took."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < within, "condition not met in time"
        await asyncio.sleep(step)
    return time.monotonic() - started


@asynccontextmanager
async def live_protection(connector: BusConnector, **settings: int) -> AsyncIterator[Protection]:
    """A :class:`Protection` kept current from the configuration bucket, as a node runs it."""
    protection = Protection(
        time.monotonic, settings=SettingsConfig(id=SETTINGS_ID, **settings) if settings else None
    )
    live: LiveProtection | None = None
    view = ConfigView(
        connector,
        {kind: CONFIG_KINDS[kind] for kind in KINDS},
        on_change=lambda changes: live.on_change(changes) if live else None,
    )
    live = LiveProtection(protection, view)
    live.start()
    view.start()
    try:
        await asyncio.wait_for(view.loaded.wait(), 10)
        yield protection
    finally:
        await view.stop()
        await live.stop()
