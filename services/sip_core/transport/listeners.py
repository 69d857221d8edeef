"""Binding and unbinding every SIP listener a node is configured for, and sending to peers."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable

import structlog

from services.sip_core.config import SipSettings
from services.sip_core.sip import Limits, Peer
from services.sip_core.transport.common import SIP_DROPPED, MessageSink
from services.sip_core.transport.dns import SipResolver, is_address
from services.sip_core.transport.stream import StreamConnections
from services.sip_core.transport.udp import UdpTransport

_log = structlog.get_logger(__name__)

#: Datagrams queued towards one carrier name while it is being resolved.
MAX_UNRESOLVED_QUEUE = 64


def tls_context(settings: SipSettings) -> ssl.SSLContext | None:
    """A server context (TLS 1.2+) when a certificate is configured, else ``None``."""
    if not (settings.tls_cert_file and settings.tls_key_file):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(settings.tls_cert_file), str(settings.tls_key_file))
    return context


def tls_client_context(settings: SipSettings) -> ssl.SSLContext:
    """The context for connections to carriers (TLS 1.2+): verified against ``tls_ca_file`` or
    the system's trust store, the certificate's name checked against the gateway's host, unless
    ``tls_verify`` is off (a lab). Our own certificate, when set, is offered to carriers that
    ask for one (mutual TLS)."""
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH,
        cafile=str(settings.tls_ca_file) if settings.tls_ca_file else None,
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not settings.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.tls_cert_file and settings.tls_key_file:
        context.load_cert_chain(str(settings.tls_cert_file), str(settings.tls_key_file))
    return context


class SipListeners:
    """The UDP, TCP and TLS listeners of one sip_core node, and sending to peers through them.

    Parsed messages go to ``sink`` (the stack); :meth:`send` reaches a UDP address, a
    connected TCP/TLS peer, or a carrier we open a connection to (see ``transport.stream``).
    Peers named by a domain name are resolved first (``transport.dns``); a peer that cannot be
    resolved or connected to is reported to ``on_failure`` (the stack fails its transactions).
    """

    def __init__(
        self,
        sink: MessageSink,
        settings: SipSettings,
        *,
        on_failure: Callable[[Peer], None] | None = None,
        resolver: SipResolver | None = None,
    ) -> None:
        self.sink = sink
        self.settings = settings
        self.on_failure = on_failure
        self.limits = Limits(max_message_size=settings.max_message_size)
        self.resolver = resolver or SipResolver(
            settings.dns_servers or None,
            port=settings.dns_port,
            timeout=settings.dns_timeout,
            negative_ttl=settings.dns_negative_ttl,
        )
        self.udp: UdpTransport | None = None
        self._udp_transport: asyncio.DatagramTransport | None = None
        self._servers: list[asyncio.Server] = []
        self._streams: dict[str, StreamConnections] = {}
        self._unresolved: dict[Peer, list[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: ``{"udp": (host, port), "tcp": …, "tls": …}`` as bound (ports resolved when 0).
        self.bound: dict[str, tuple[str, int]] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        s = self.settings
        if s.udp_port:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: UdpTransport(self.sink, self.limits), local_addr=(s.host, s.udp_port)
            )
            self._udp_transport, self.udp = transport, protocol
            self.bound["udp"] = transport.get_extra_info("sockname")[:2]
            if s.udp_socket_buffer:
                sock = transport.get_extra_info("socket")
                for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                    sock.setsockopt(socket.SOL_SOCKET, option, s.udp_socket_buffer)
        client = tls_client_context(s)
        self._streams["TCP"] = self._connections("TCP", None)
        self._streams["TLS"] = self._connections("TLS", client)
        if s.tcp_port:
            await self._serve_stream("tcp", s.tcp_port, None)
        context = tls_context(s)
        if context is not None and s.tls_port:
            await self._serve_stream("tls", s.tls_port, context)
        _log.info("SIP listening", **{k: f"{h}:{p}" for k, (h, p) in self.bound.items()})

    def _connections(self, name: str, client: ssl.SSLContext | None) -> StreamConnections:
        s = self.settings
        return StreamConnections(
            self.sink,
            self.limits,
            transport=name,
            idle_timeout=s.tcp_idle_timeout,
            max_connections=s.max_connections,
            max_outbound=s.max_outbound_connections,
            connect_timeout=s.connect_timeout,
            client_context=client,
            resolve=self.resolver.resolve,
            on_failure=self._failed,
        )

    async def _serve_stream(self, name: str, port: int, context: ssl.SSLContext | None) -> None:
        shared = self._streams[name.upper()]
        server = await asyncio.get_running_loop().create_server(
            shared.protocol, self.settings.host, port, ssl=context, reuse_address=True
        )
        self._servers.append(server)
        self.bound[name] = server.sockets[0].getsockname()[:2]

    def send(self, peer: Peer, data: bytes) -> bool:
        if peer.transport == "UDP":
            udp = self.udp
            if udp is None:
                return False
            if peer.port and is_address(peer.host):
                return udp.send(data, (peer.host, peer.port))
            return self._send_by_name(udp, peer, data)
        stream = self._streams.get(peer.transport)
        return stream is not None and stream.send(peer, data)

    def _send_by_name(self, udp: UdpTransport, peer: Peer, data: bytes) -> bool:
        addresses = self.resolver.cached(peer)
        if addresses is not None:
            # UDP gives no failure to try the next address on: the best one it is.
            return bool(addresses) and udp.send(data, addresses[0])
        queued = self._unresolved.get(peer)
        if queued is not None:
            if len(queued) >= MAX_UNRESOLVED_QUEUE:
                SIP_DROPPED.labels("unresolved_queue").inc()
                return False
            queued.append(data)
            return True
        self._unresolved[peer] = [data]
        task = asyncio.get_running_loop().create_task(self._resolve_then_send(udp, peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _resolve_then_send(self, udp: UdpTransport, peer: Peer) -> None:
        try:
            addresses = await self.resolver.resolve(peer)
        finally:
            queued = self._unresolved.pop(peer, [])
        if not addresses:
            self._failed(peer)
            return
        for data in queued:
            udp.send(data, addresses[0])

    def _failed(self, peer: Peer) -> None:
        if self.on_failure is not None:
            try:
                self.on_failure(peer)
            except Exception:
                _log.exception("reporting an unreachable peer failed", peer=peer.host)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._udp_transport is not None:
            self._udp_transport.close()
        for server in self._servers:
            server.close()
        for shared in self._streams.values():
            shared.close_all()
        for server in self._servers:
            await server.wait_closed()
