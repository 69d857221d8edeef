"""The relay's sockets: one ``asyncio.DatagramProtocol`` per media port around the sans-I/O core.

:class:`MediaPlane` binds the four sockets of a session (leg a RTP/RTCP, leg b RTP/RTCP), wires
each to its twin on the other leg and tears them down again. The hot path is
:meth:`MediaSocket.datagram_received`: compare the source with the latched peer (a tuple
compare), send the ``bytes`` as received out of the twin's socket, and let the core endpoint
update its counters from the RTP header. It never raises: anything unexpected is counted in
:attr:`MediaPlane.errors` and logged at debug level.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from typing import cast

import structlog

from services.rtp_relay.config import MediaSettings
from services.rtp_relay.core import (
    Endpoint,
    Expiry,
    MediaSession,
    MediaTable,
    PeerAddress,
    PortPool,
    Refusal,
    Refused,
    SessionReport,
)
from services.rtp_relay.core.ports import PortsExhausted

__all__ = ["MediaPlane", "MediaSocket"]

_log = structlog.get_logger(__name__)

_DSCP_EF = 46 << 2  # Expedited Forwarding for voice (RFC 4594 §4.1), in the TOS/traffic class


class MediaSocket(asyncio.DatagramProtocol):
    """One media port. ``out`` is the transport of the twin socket (the other leg)."""

    __slots__ = ("endpoint", "out", "plane", "transport", "twin")

    def __init__(self, endpoint: Endpoint, plane: MediaPlane) -> None:
        self.endpoint = endpoint
        self.plane = plane
        self.transport: asyncio.DatagramTransport | None = None
        self.out: asyncio.DatagramTransport | None = None
        self.twin: MediaSocket = self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        datagrams = cast(asyncio.DatagramTransport, transport)
        self.transport = datagrams
        self.twin.out = datagrams

    def datagram_received(
        self,
        data: bytes,
        addr: tuple[str, int],
        # Not loop.time(): uvloop's has millisecond resolution, 8 timestamp units at 8 kHz,
        # too coarse for jitter. time.monotonic is what the standard loop's time() reads.
        _now: Callable[[], float] = time.monotonic,
    ) -> None:
        endpoint = self.endpoint
        try:
            now = _now()
            if addr != endpoint.peer and not endpoint.admit(addr, now):
                return
            destination = endpoint.twin.send_to
            if destination is None:
                endpoint.unrouted += 1
            else:
                self.out.sendto(data, destination)  # type: ignore[union-attr]
            endpoint.received(data, now)
        except Exception as exc:  # the datagram path never raises (STYLE.md)
            self.plane.errors += 1
            _log.debug("media.packet_failed", port=endpoint.port, error=repr(exc))

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable at a peer that hung up): nothing to do but count.
        self.plane.errors += 1
        _log.debug("media.socket_error", port=self.endpoint.port, error=repr(exc))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class MediaPlane:
    """The relay's sessions and their sockets (one event loop, one task at a time).

    Raises :class:`~services.rtp_relay.core.Refused` for requests it will not carry out.
    """

    def __init__(
        self, settings: MediaSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.pool = PortPool(settings.port_min, settings.port_max)
        self.table = MediaTable(
            media_timeout=settings.timeout,
            setup_timeout=settings.setup_timeout,
            relatch_after=settings.relatch_after,
        )
        self.errors = 0
        self._sockets: dict[str, tuple[MediaSocket, ...]] = {}
        self._pending: set[str] = set()
        self._family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET

    @property
    def family(self) -> socket.AddressFamily:
        return self._family

    # -- commands ----------------------------------------------------------------------------

    async def offer(
        self, call_id: str, peer: PeerAddress, *, owner: str | None = None, draining: bool = False
    ) -> MediaSession:
        """Allocate and bind both legs' ports for a new call (leg a = ``peer``), or update leg
        a's peer for a known one. A draining relay refuses new calls but keeps its own."""
        if call_id in self.table:
            session = self.table.get(call_id)
            session.offer(peer)
            return session
        if call_id in self._pending:
            raise Refused(Refusal.BAD_REQUEST, "an offer for this call id is in progress")
        if draining:
            raise Refused(Refusal.DRAINING, "the relay is draining and takes no new calls")
        a_port, a_socks = self._bind_pair()
        try:
            b_port, b_socks = self._bind_pair()
        except Refused:
            self._discard(a_port, a_socks)
            raise
        session = MediaSession(
            call_id,
            a_port,
            b_port,
            self.clock(),
            owner=owner,
            relatch_after=self.settings.relatch_after,
        )
        session.offer(peer)
        protocols = tuple(MediaSocket(endpoint, self) for endpoint in session.endpoints)
        a_rtp, a_rtcp, b_rtp, b_rtcp = protocols
        a_rtp.twin, b_rtp.twin = b_rtp, a_rtp
        a_rtcp.twin, b_rtcp.twin = b_rtcp, a_rtcp
        loop = asyncio.get_running_loop()
        self._pending.add(call_id)
        try:
            await asyncio.gather(
                *(
                    loop.create_datagram_endpoint(lambda p=protocol: p, sock=sock)  # type: ignore[misc]
                    for protocol, sock in zip(protocols, (*a_socks, *b_socks), strict=True)
                )
            )
        except BaseException:
            for protocol in protocols:
                if protocol.transport is not None:
                    protocol.transport.close()
            self._discard(a_port, a_socks)
            self._discard(b_port, b_socks)
            raise
        finally:
            self._pending.discard(call_id)
        self._sockets[call_id] = protocols
        self.table.add(session)
        return session

    def answer(self, call_id: str, peer: PeerAddress) -> MediaSession:
        """Record leg b's peer (the callee's SDP) and arm the media timeout."""
        session = self.table.get(call_id)
        session.answer(peer, self.clock())
        return session

    def query(self, call_id: str) -> SessionReport:
        return self.table.get(call_id).report(self.clock())

    def delete(self, call_id: str) -> SessionReport:
        """End a call's media: close its sockets, release its ports, return final figures."""
        session = self.table.remove(call_id)
        report = session.report(self.clock())
        self._close(session)
        return report

    def expire(self) -> list[tuple[MediaSession, Expiry, SessionReport]]:
        """End the sessions that timed out (see ``MediaSession.expiry``)."""
        now = self.clock()
        ended = []
        for session, expiry in self.table.expired(now):
            report = session.report(now)
            self.table.remove(session.call_id)
            self._close(session)
            ended.append((session, expiry, report))
        return ended

    def close(self) -> None:
        """Close every session's sockets (the relay stops)."""
        for session in self.table.sessions():
            self.table.remove(session.call_id)
            self._close(session)

    # -- sockets -----------------------------------------------------------------------------

    def _bind_pair(self) -> tuple[int, tuple[socket.socket, socket.socket]]:
        """Bind the next free RTP/RTCP pair, skipping pairs another process holds."""
        tries = min(self.settings.bind_attempts, max(1, self.pool.available))
        for _ in range(tries):
            try:
                port = self.pool.allocate()
            except PortsExhausted as exc:
                raise Refused(Refusal.NO_PORTS, str(exc)) from None
            try:
                rtp = self._bind(port)
            except OSError as exc:
                self.pool.set_aside(port)
                _log.info("media.port_busy", port=port, error=exc.strerror)
                continue
            try:
                rtcp = self._bind(port + 1)
            except OSError as exc:
                rtp.close()
                self.pool.set_aside(port)
                _log.info("media.port_busy", port=port + 1, error=exc.strerror)
                continue
            return port, (rtp, rtcp)
        raise Refused(
            Refusal.NO_PORTS, f"no bindable port pair after {tries} attempts (ports held by others)"
        )

    def _bind(self, port: int) -> socket.socket:
        # No SO_REUSEADDR: on UDP it would let two sockets share a port, so a port another
        # process holds must fail here and be skipped.
        sock = socket.socket(self._family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            if self.settings.rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.settings.rcvbuf)
            with contextlib.suppress(OSError):
                if self._family == socket.AF_INET:
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, _DSCP_EF)
                else:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, _DSCP_EF)
            sock.bind((self.settings.host, port))
        except BaseException:
            sock.close()
            raise
        return sock

    def _discard(self, port: int, socks: tuple[socket.socket, socket.socket]) -> None:
        for sock in socks:
            sock.close()
        self.pool.release(port)

    def _close(self, session: MediaSession) -> None:
        for protocol in self._sockets.pop(session.call_id, ()):
            if protocol.transport is not None:
                protocol.transport.close()
        self.pool.release(session.a.rtp.port)
        self.pool.release(session.b.rtp.port)
