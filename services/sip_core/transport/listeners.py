"""Binding and unbinding every SIP listener a node is configured for."""

from __future__ import annotations

import asyncio
import socket
import ssl

import structlog

from services.sip_core.config import SipSettings
from services.sip_core.sip import Limits, Peer
from services.sip_core.transport.common import Gate, MessageSink
from services.sip_core.transport.stream import StreamConnections
from services.sip_core.transport.udp import UdpTransport

_log = structlog.get_logger(__name__)


def tls_context(settings: SipSettings) -> ssl.SSLContext | None:
    """A server context (TLS 1.2+) when a certificate is configured, else ``None``."""
    if not (settings.tls_cert_file and settings.tls_key_file):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(settings.tls_cert_file), str(settings.tls_key_file))
    return context


class SipListeners:
    """The UDP, TCP and TLS listeners of one sip_core node, and sending to peers through them.

    Parsed messages go to ``sink`` (the stack); :meth:`send` reaches a UDP address or a
    connected TCP/TLS peer (connections we open ourselves towards carriers come later).
    """

    def __init__(self, sink: MessageSink, settings: SipSettings, gate: Gate | None = None) -> None:
        self.sink = sink
        self.settings = settings
        #: The security plane (firewall, flood guard), consulted before parsing.
        self.gate = gate
        self.limits = Limits(max_message_size=settings.max_message_size)
        self.udp: UdpTransport | None = None
        self._udp_transport: asyncio.DatagramTransport | None = None
        self._servers: list[asyncio.Server] = []
        self._streams: dict[str, StreamConnections] = {}
        #: ``{"udp": (host, port), "tcp": …, "tls": …}`` as bound (ports resolved when 0).
        self.bound: dict[str, tuple[str, int]] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        s = self.settings
        if s.udp_port:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: UdpTransport(self.sink, self.limits, self.gate),
                local_addr=(s.host, s.udp_port),
            )
            self._udp_transport, self.udp = transport, protocol
            self.bound["udp"] = transport.get_extra_info("sockname")[:2]
            if s.udp_socket_buffer:
                sock = transport.get_extra_info("socket")
                for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                    sock.setsockopt(socket.SOL_SOCKET, option, s.udp_socket_buffer)
        if s.tcp_port:
            await self._serve_stream("tcp", s.tcp_port, None)
        context = tls_context(s)
        if context is not None and s.tls_port:
            await self._serve_stream("tls", s.tls_port, context)
        _log.info("SIP listening", **{k: f"{h}:{p}" for k, (h, p) in self.bound.items()})

    async def _serve_stream(self, name: str, port: int, context: ssl.SSLContext | None) -> None:
        shared = StreamConnections(
            self.sink,
            self.limits,
            transport=name.upper(),
            idle_timeout=self.settings.tcp_idle_timeout,
            max_connections=self.settings.max_connections,
            gate=self.gate,
        )
        server = await asyncio.get_running_loop().create_server(
            shared.protocol, self.settings.host, port, ssl=context, reuse_address=True
        )
        self._servers.append(server)
        self._streams[name.upper()] = shared
        self.bound[name] = server.sockets[0].getsockname()[:2]

    def send(self, peer: Peer, data: bytes) -> bool:
        if peer.transport == "UDP":
            return self.udp is not None and self.udp.send(data, (peer.host, peer.port))
        stream = self._streams.get(peer.transport)
        return stream is not None and stream.send(peer, data)

    async def stop(self) -> None:
        if self._udp_transport is not None:
            self._udp_transport.close()
        for server in self._servers:
            server.close()
        for shared in self._streams.values():
            shared.close_all()
        for server in self._servers:
            await server.wait_closed()
