"""SIP over TCP and TLS: one framer per connection (RFC 3261 §18.3), bounded and idle-timed."""

from __future__ import annotations

import asyncio
from typing import cast

import structlog

from services.sip_core.b2bua.application import SIP_DROPPED, SipApplication
from services.sip_core.sip import (
    FramingError,
    Limits,
    MessageTooLarge,
    ParseError,
    Response,
    StreamFramer,
)
from services.sip_core.transport.common import dispatch, rejected

_log = structlog.get_logger(__name__)


class StreamConnections:
    """Shared state of one TCP or TLS listener: its connection count and limits."""

    def __init__(
        self,
        app: SipApplication,
        limits: Limits,
        *,
        transport: str,
        idle_timeout: float,
        max_connections: int,
    ) -> None:
        self.app = app
        self.limits = limits
        self.transport = transport
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.open: set[SipStreamProtocol] = set()

    def protocol(self) -> SipStreamProtocol:
        return SipStreamProtocol(self)

    def close_all(self) -> None:
        for connection in list(self.open):
            connection.close()


class SipStreamProtocol(asyncio.Protocol):
    def __init__(self, shared: StreamConnections) -> None:
        self.shared = shared
        self.framer = StreamFramer(shared.limits)
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername") or ("", 0)
        self.peer = (peer[0], peer[1])
        if len(self.shared.open) >= self.shared.max_connections:
            SIP_DROPPED.labels("connection_limit").inc()
            self.transport.abort()
            return
        self.shared.open.add(self)
        self._arm_idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.shared.open.discard(self)
        if self._idle is not None:
            self._idle.cancel()

    def data_received(self, data: bytes) -> None:
        self._arm_idle_timer()
        try:
            self._handle(data)
        except Exception:  # a bug must cost this connection, never the listener
            SIP_DROPPED.labels("error").inc()
            _log.exception("error handling SIP stream data", source=self.peer[0])
            self.close()

    def _handle(self, data: bytes) -> None:
        self.framer.feed(data)
        while True:
            try:
                message = self.framer.next_message()
            except (FramingError, MessageTooLarge) as err:
                # Where the next message starts is unknowable: answer if we can, then hang up.
                rejected(err, self.peer, self.send_response)
                self.close()
                return
            except ParseError as err:
                rejected(err, self.peer, self.send_response)
                continue
            pings = self.framer.take_pings()
            if pings:
                self.send(b"\r\n" * pings)  # RFC 5626 §3.5.1 pong for each CRLFCRLF ping
            if message is None:
                return
            dispatch(self.shared.app, message, self.peer, self.shared.transport, self.send_response)

    def send_response(self, response: Response) -> None:
        # §18.2.2: over a reliable transport, answer on the connection the request came on.
        self.send(bytes(response))

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _arm_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        loop = asyncio.get_running_loop()
        self._idle = loop.call_later(self.shared.idle_timeout, self.close)
