"""SIP over UDP (RFC 3261 §18.1.1, §18.2.1; RFC 3581 for NAT'd clients)."""

from __future__ import annotations

import asyncio
from typing import cast

import structlog

from services.sip_core.b2bua.application import SIP_DROPPED, SipApplication
from services.sip_core.sip import Limits, ParseError, Response, is_keepalive, parse_datagram
from services.sip_core.transport.common import dispatch, rejected

_log = structlog.get_logger(__name__)


def response_destination(response: Response, source: tuple[str, int]) -> tuple[str, int]:
    """Where a response to a UDP request goes (RFC 3261 §18.2.2, RFC 3581 §4).

    To the ``received`` address (the packet's real source) at the ``rport`` port when the
    client asked for symmetric response routing, else at the sent-by port (default 5060).
    """
    try:
        via = response.top_via
    except ParseError:
        return source
    host = via.params.get("received") or via.host
    rport = via.params.get("rport")
    if rport and rport.isdigit():
        return host, int(rport)
    return host, via.port or 5060


class UdpTransport(asyncio.DatagramProtocol):
    def __init__(self, app: SipApplication, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self._handle(data, addr)
        except Exception:  # a bug must cost one packet, never the listener
            SIP_DROPPED.labels("error").inc()
            _log.exception("error handling a SIP datagram", source=addr[0])

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable for an earlier send: the peer is gone; nothing to do here.
        _log.debug("UDP send error", error=str(exc))

    def _handle(self, data: bytes, addr: tuple[str, int]) -> None:
        if is_keepalive(data):
            return
        source = (addr[0], addr[1])

        def reply(response: Response) -> None:
            self.send(bytes(response), response_destination(response, source))

        try:
            message = parse_datagram(data, self.limits)
        except ParseError as err:
            # Malformed: answer the packet's real source, not a Via we could not trust.
            rejected(err, source, lambda response: self.send(bytes(response), source))
            return
        dispatch(self.app, message, source, "UDP", reply)

    def send(self, data: bytes, destination: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, destination)
