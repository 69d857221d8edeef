"""SIP over TCP and TLS: one framer per connection (RFC 3261 §18.3), bounded and idle-timed."""

from __future__ import annotations

import asyncio
from typing import cast

import structlog

from services.sip_core.sip import (
    FramingError,
    Limits,
    MessageTooLarge,
    ParseError,
    Peer,
    Response,
    StreamFramer,
)
from services.sip_core.transport.common import SIP_DROPPED, Gate, MessageSink, rejected

_log = structlog.get_logger(__name__)


class StreamConnections:
    """One TCP or TLS listener's connections, by peer, with their limits."""

    def __init__(
        self,
        sink: MessageSink,
        limits: Limits,
        *,
        transport: str,
        idle_timeout: float,
        max_connections: int,
        gate: Gate | None = None,
    ) -> None:
        self.sink = sink
        self.gate = gate
        self.limits = limits
        self.transport = transport
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.open: dict[Peer, SipStreamProtocol] = {}

    def protocol(self) -> SipStreamProtocol:
        return SipStreamProtocol(self)

    def send(self, peer: Peer, data: bytes) -> bool:
        connection = self.open.get(peer)
        if connection is None:
            return False
        return connection.send(data)

    def close_all(self) -> None:
        for connection in list(self.open.values()):
            connection.close()


class SipStreamProtocol(asyncio.Protocol):
    def __init__(self, shared: StreamConnections) -> None:
        self.shared = shared
        self.framer = StreamFramer(shared.limits)
        self.transport: asyncio.Transport | None = None
        self.peer = Peer(shared.transport, "", 0)
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        address = transport.get_extra_info("peername") or ("", 0)
        self.peer = Peer(self.shared.transport, address[0], address[1])
        gate = self.shared.gate
        if gate is not None and not gate.admit(self.peer.host):
            # Refused on accept, before a TLS handshake or a byte is read.
            self.transport.abort()
            return
        if len(self.shared.open) >= self.shared.max_connections:
            SIP_DROPPED.labels("connection_limit").inc()
            self.transport.abort()
            return
        self.shared.open[self.peer] = self
        self._arm_idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.shared.open.get(self.peer) is self:
            del self.shared.open[self.peer]
        if self._idle is not None:
            self._idle.cancel()

    def data_received(self, data: bytes) -> None:
        gate = self.shared.gate
        if gate is not None and not gate.admit(self.peer.host):
            # Blocked or banned since the connection opened: hang up.
            if self.transport is not None:
                self.transport.abort()
            return
        self._arm_idle_timer()
        try:
            self._handle(data)
        except Exception:  # a bug must cost this connection, never the listener
            SIP_DROPPED.labels("error").inc()
            _log.exception("error handling SIP stream data", source=self.peer.host)
            self.close()

    def _handle(self, data: bytes) -> None:
        self.framer.feed(data)
        source = (self.peer.host, self.peer.port)
        gate = self.shared.gate
        while True:
            try:
                message = self.framer.next_message()
            except (FramingError, MessageTooLarge) as err:
                # Where the next message starts is unknowable: answer if we can, then hang up.
                rejected(err, source, self._reply, gate)
                self.close()
                return
            except ParseError as err:
                rejected(err, source, self._reply, gate)
                continue
            pings = self.framer.take_pings()
            if pings:
                self.send(b"\r\n" * pings)  # RFC 5626 §3.5.1 pong for each CRLFCRLF ping
            if message is None:
                return
            if gate is not None and not gate.screen(message, self.peer):
                continue
            self.shared.sink(message, self.peer)

    def _reply(self, response: Response) -> None:
        self.send(bytes(response))

    def send(self, data: bytes) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _arm_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        loop = asyncio.get_running_loop()
        self._idle = loop.call_later(self.shared.idle_timeout, self.close)
