"""SIP over TCP and TLS: one framer per connection (RFC 3261 §18.3), bounded and idle-timed.

Connections both ways share one map from :class:`Peer` to connection, so a response, or an
in-dialog request, goes back on whichever connection the peer is known by (§18.2.2): the one it
opened to us, or the one we opened to it. Towards carriers (§18.1.1) :meth:`StreamConnections.send`
opens a connection on first use — resolving an FQDN first, with a connect timeout, TLS with
certificate verification and SNI — queues what is sent meanwhile, and reports a failure to
connect through ``on_failure`` so the transactions waiting on it fail over at once instead of
running into Timer B. Outbound connections are keyed by the peer the TU named (an FQDN stays an
FQDN), so a carrier's requests on that connection are seen as coming from the same peer.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import cast

import structlog
from prometheus_client import Counter, Gauge

from services.sip_core.sip import (
    FramingError,
    Limits,
    MessageTooLarge,
    ParseError,
    Peer,
    Response,
    StreamFramer,
)
from services.sip_core.transport.common import SIP_DROPPED, MessageSink, rejected

_log = structlog.get_logger(__name__)

CONNECTIONS = Gauge(
    "tandem_sip_connections", "Open SIP TCP/TLS connections", ["transport", "direction"]
)
CONNECTS = Counter(
    "tandem_sip_connects_total",
    "Outbound SIP TCP/TLS connection attempts by result",
    ["transport", "result"],
)

#: Where a name resolves to: ``(address, port)`` pairs to try in order (see ``transport.dns``).
Resolve = Callable[[Peer], Awaitable[list[tuple[str, int]]]]
#: Told when a peer could not be reached (connect or resolution failed).
OnFailure = Callable[[Peer], None]

#: Bytes queued towards a peer while its connection is being opened (then sends fail).
MAX_PENDING_BYTES = 1_048_576


class StreamConnections:
    """One transport's (TCP or TLS) connections, by peer, with their limits."""

    def __init__(
        self,
        sink: MessageSink,
        limits: Limits,
        *,
        transport: str,
        idle_timeout: float,
        max_connections: int,
        max_outbound: int = 1_000,
        connect_timeout: float = 5.0,
        client_context: ssl.SSLContext | None = None,
        resolve: Resolve | None = None,
        on_failure: OnFailure | None = None,
    ) -> None:
        self.sink = sink
        self.limits = limits
        self.transport = transport
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.max_outbound = max_outbound
        self.connect_timeout = connect_timeout
        self.client_context = client_context
        self.resolve = resolve
        self.on_failure = on_failure
        self.open: dict[Peer, SipStreamProtocol] = {}
        #: Connections open now, and opened since start, each way.
        self.inbound = 0
        self.outbound = 0
        self.accepted = 0
        self.connected = 0
        self._connecting: dict[Peer, list[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._gauges = {
            "in": CONNECTIONS.labels(transport, "in"),
            "out": CONNECTIONS.labels(transport, "out"),
        }

    def protocol(self) -> SipStreamProtocol:
        return SipStreamProtocol(self)

    def send(self, peer: Peer, data: bytes) -> bool:
        """Write to ``peer``'s connection, opening one (asynchronously) when there is none.

        ``False`` when the data cannot go anywhere now (no room for another connection, too
        much queued); a connection that later fails to open is reported through ``on_failure``.
        """
        connection = self.open.get(peer)
        if connection is not None:
            return connection.send(data)
        queued = self._connecting.get(peer)
        if queued is not None:
            if sum(map(len, queued)) + len(data) > MAX_PENDING_BYTES:
                return False
            queued.append(data)
            return True
        if self.transport == "TLS" and self.client_context is None:
            return False
        if self.outbound + len(self._connecting) >= self.max_outbound:
            SIP_DROPPED.labels("outbound_connection_limit").inc()
            return False
        self._connecting[peer] = [data]
        task = asyncio.get_running_loop().create_task(self._connect(peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _connect(self, peer: Peer) -> None:
        loop = asyncio.get_running_loop()
        failure = "refused"
        try:
            async with asyncio.timeout(self.connect_timeout):
                addresses = (
                    await self.resolve(peer)
                    if self.resolve is not None
                    else [(peer.host, peer.port)]
                )
                if not addresses:
                    failure = "unresolved"
                for host, port in addresses:
                    try:
                        await loop.create_connection(
                            lambda: SipStreamProtocol(self, key=peer),
                            host,
                            port,
                            ssl=self.client_context if self.transport == "TLS" else None,
                            # SNI and the name checked against the certificate: the carrier's
                            # name as configured (an address when no name was given).
                            server_hostname=peer.host if self.transport == "TLS" else None,
                        )
                        break
                    except ssl.SSLError as err:
                        failure = "tls"
                        _log.warning(
                            "TLS handshake with carrier failed", peer=peer.host, error=str(err)
                        )
                    except OSError as err:
                        _log.info(
                            "SIP connection failed",
                            peer=f"{peer.host}:{peer.port}",
                            transport=self.transport,
                            error=str(err),
                        )
        except TimeoutError:
            failure = "timeout"
        except Exception:  # a resolver bug must cost this peer, never the node
            failure = "error"
            _log.exception("opening a SIP connection failed", peer=peer.host)
        connection = self.open.get(peer)
        queued = self._connecting.pop(peer, [])
        if connection is not None and connection.send(b"".join(queued)):
            CONNECTS.labels(self.transport, "connected").inc()
            return
        CONNECTS.labels(self.transport, failure).inc()
        if self.on_failure is not None:
            self.on_failure(peer)

    def added(self, connection: SipStreamProtocol, outbound: bool) -> bool:
        """Register a new connection; ``False`` when the listener is full (inbound only)."""
        if not outbound:
            if self.inbound >= self.max_connections:
                return False
            self.inbound += 1
            self.accepted += 1
        else:
            self.outbound += 1
            self.connected += 1
        self._gauges["out" if outbound else "in"].inc()
        previous = self.open.get(connection.peer)
        if previous is not None and previous is not connection:
            previous.close()  # the newer connection wins the peer
        self.open[connection.peer] = connection
        return True

    def removed(self, connection: SipStreamProtocol, outbound: bool) -> None:
        if outbound:
            self.outbound -= 1
        else:
            self.inbound -= 1
        self._gauges["out" if outbound else "in"].dec()
        if self.open.get(connection.peer) is connection:
            del self.open[connection.peer]

    def close_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for connection in list(self.open.values()):
            connection.close()


class SipStreamProtocol(asyncio.Protocol):
    def __init__(self, shared: StreamConnections, key: Peer | None = None) -> None:
        self.shared = shared
        self.framer = StreamFramer(shared.limits)
        self.transport: asyncio.Transport | None = None
        self.outbound = key is not None
        self.peer = key or Peer(shared.transport, "", 0)
        self._registered = False
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if not self.outbound:
            address = transport.get_extra_info("peername") or ("", 0)
            self.peer = Peer(self.shared.transport, address[0], address[1])
        if not self.shared.added(self, self.outbound):
            SIP_DROPPED.labels("connection_limit").inc()
            self.transport.abort()
            return
        self._registered = True
        self._arm_idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._registered:
            self._registered = False
            self.shared.removed(self, self.outbound)
        if self._idle is not None:
            self._idle.cancel()

    def data_received(self, data: bytes) -> None:
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
        while True:
            try:
                message = self.framer.next_message()
            except (FramingError, MessageTooLarge) as err:
                # Where the next message starts is unknowable: answer if we can, then hang up.
                rejected(err, source, self._reply)
                self.close()
                return
            except ParseError as err:
                rejected(err, source, self._reply)
                continue
            pings = self.framer.take_pings()
            if pings:
                self.send(b"\r\n" * pings)  # RFC 5626 §3.5.1 pong for each CRLFCRLF ping
            if message is None:
                return
            self.shared.sink(message, self.peer)

    def _reply(self, response: Response) -> None:
        self.send(bytes(response))

    def send(self, data: bytes) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        if data:
            self.transport.write(data)
            self._arm_idle_timer()
        return True

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _arm_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        loop = asyncio.get_running_loop()
        self._idle = loop.call_later(self.shared.idle_timeout, self.close)
