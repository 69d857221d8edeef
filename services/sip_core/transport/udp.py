"""SIP over UDP (RFC 3261 §18.1.1, §18.2.1; RFC 3581 for NAT'd clients)."""

from __future__ import annotations

import asyncio
from typing import cast

import structlog

from services.sip_core.sip import Limits, ParseError, Peer, is_keepalive, parse_datagram
from services.sip_core.transport.common import SIP_DROPPED, Gate, MessageSink, rejected

_log = structlog.get_logger(__name__)


class UdpTransport(asyncio.DatagramProtocol):
    def __init__(self, sink: MessageSink, limits: Limits, gate: Gate | None = None) -> None:
        self.sink = sink
        self.limits = limits
        self.gate = gate
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        gate = self.gate
        try:
            # The firewall and flood bans first: a dropped source costs one look-up, no parse.
            if gate is not None and not gate.admit(addr[0]):
                return
            if is_keepalive(data):
                return
            try:
                message = parse_datagram(data, self.limits)
            except ParseError as err:
                source = (addr[0], addr[1])
                rejected(err, source, lambda response: self.send(bytes(response), source), gate)
                return
            peer = Peer("UDP", addr[0], addr[1])
            if gate is not None and not gate.screen(message, peer):
                return
            self.sink(message, peer)
        except Exception:  # a bug must cost one packet, never the listener
            SIP_DROPPED.labels("error").inc()
            _log.exception("error handling a SIP datagram", source=addr[0])

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable for an earlier send: the peer is gone; timers will notice.
        _log.debug("UDP send error", error=str(exc))

    def send(self, data: bytes, destination: tuple[str, int]) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.sendto(data, destination)
        return True
