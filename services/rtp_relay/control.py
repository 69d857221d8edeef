"""The relay's control endpoint on NATS: ``media.relay.<node_id>.<command>`` request/reply.

Each relay listens on its own subjects, so sip_core addresses the one relay it chose from the
presence bucket (the protocol is drawn in :mod:`libs.bus.media`). Every request gets a typed
reply: the command's result, or :class:`~libs.bus.media.MediaRefused` with a reason — a
malformed request, an unknown call, exhausted ports, a draining relay, or (logged with its
traceback) an internal error. One timer sweeps for media time-outs, publishing
:class:`~libs.bus.media.MediaTimedOut`, and samples the packet rate and CPU for the heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog

from libs.bus import Bus, BusError, BusMessage, MessageDecodeError, Msg, Subscription
from libs.bus.media import (
    AnswerMedia,
    DeleteMedia,
    MediaAnswered,
    MediaDeleted,
    MediaOffered,
    MediaQueried,
    MediaRefused,
    MediaStats,
    MediaTimedOut,
    OfferMedia,
    PeerMedia,
    QueryMedia,
    RelayPorts,
    RelayStatus,
    RelayStatusRequested,
    media_timeout_subject,
    relay_subject,
)
from libs.bus.tasks import cancel_and_wait
from libs.node import Node
from services.rtp_relay.config import RtpRelaySettings
from services.rtp_relay.core import Leg, MediaSession, PeerAddress, Refusal, Refused
from services.rtp_relay.core.session import SessionReport
from services.rtp_relay.udp import MediaPlane

__all__ = ["RelayControl"]

_log = structlog.get_logger(__name__)


def _stats(report: SessionReport) -> MediaStats:
    return MediaStats.model_validate(dataclasses.asdict(report))


class RelayControl:
    """The media plane of one relay, driven over NATS.

    Use :meth:`run` as the node's workload, or :meth:`start`/:meth:`stop` with a bus directly
    (the tests do).
    """

    def __init__(
        self,
        settings: RtpRelaySettings,
        *,
        draining: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.node_id = settings.node_id
        self.draining = draining
        self.clock = clock
        self.plane = MediaPlane(settings.media, clock=clock)
        self.pps = 0.0
        self.cpu = 0.0
        self._bus: Bus | None = None
        self._subscription: Subscription | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._sample = (clock(), time.process_time(), 0)
        self._commands: dict[str, tuple[type[BusMessage], Callable[[Any], Awaitable[BusMessage]]]]
        self._commands = {
            "offer": (OfferMedia, self._offer),
            "answer": (AnswerMedia, self._answer),
            "delete": (DeleteMedia, self._delete),
            "query": (QueryMedia, self._query),
            "status": (RelayStatusRequested, self._status),
        }

    # -- capacity ------------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return self.plane.pool.capacity

    @property
    def ports_in_use(self) -> int:
        return self.plane.pool.in_use

    def load(self) -> tuple[float, dict[str, float | int]]:
        """The heartbeat's load and capacity figures.

        The load is the larger of the port pairs in use and the CPU (one core = 1): a relay that
        forwards many packets for few calls is as full as one out of ports.
        """
        ports = self.ports_in_use / max(1, self.capacity)
        return max(ports, min(1.0, self.cpu)), {
            "port_pairs": self.capacity,
            "port_pairs_in_use": self.ports_in_use,
            "sessions": len(self.plane.table),
            "packets_per_second": round(self.pps, 1),
            "cpu": round(self.cpu, 3),
            "packet_errors": self.plane.errors,
        }

    def status(self) -> RelayStatus:
        return RelayStatus(
            node_id=self.node_id,
            zone=self.settings.zone,
            port_pairs=self.capacity,
            port_pairs_in_use=self.ports_in_use,
            sessions=len(self.plane.table),
            draining=self.draining(),
        )

    # -- life cycle ----------------------------------------------------------------------------

    async def start(self, bus: Bus) -> None:
        """Answer control requests on ``bus`` and start the time-out sweep."""
        self._bus = bus
        subject = relay_subject(self.node_id, "*")
        self._subscription = await bus.subscribe(subject, self._on_request)
        await self._probe(bus)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="rtp-relay-sweep")
        _log.info("media.control_ready", subject=subject, port_pairs=self.capacity)

    async def _probe(self, bus: Bus) -> None:
        """Ask ourselves for our status over the bus: once answered, the server knows the
        subscription and sip_core's requests find us. (nats-py's ``flush()`` is no barrier
        here: its PING can overtake the SUB still waiting in the client's buffer.)"""
        status = relay_subject(self.node_id, "status")
        for _ in range(20):
            try:
                await bus.request(status, RelayStatusRequested(), RelayStatus, timeout=0.5)
                return
            except BusError:
                await asyncio.sleep(0.05)
        _log.warning("media.control_probe_failed", subject=status)

    async def stop(self) -> None:
        """Stop answering, stop the sweep, close every media socket."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            await cancel_and_wait(sweeper)
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        self.plane.close()

    @asynccontextmanager
    async def run(self, node: Node) -> AsyncIterator[None]:
        """The node's workload: start once NATS is reachable; offers stop while it drains."""
        self.draining = lambda: node.draining

        async def start_when_connected() -> None:
            await self.start(await node.connector.wait_connected())

        task = asyncio.create_task(start_when_connected(), name="rtp-relay-control")
        try:
            yield
        finally:
            await cancel_and_wait(task)
            await self.stop()

    # -- requests ------------------------------------------------------------------------------

    async def _on_request(self, msg: Msg) -> None:
        command = msg.subject.rsplit(".", 1)[-1]
        request: BusMessage | None = None
        reply: BusMessage
        try:
            entry = self._commands.get(command)
            if entry is None:
                raise Refused(Refusal.BAD_REQUEST, f"unknown command {command!r}")
            request_type, handler = entry
            request = request_type.from_bytes(msg.data)
            reply = await handler(request)
        except Refused as exc:
            reply = self._refusal(exc.reason, exc.detail, request)
        except MessageDecodeError as exc:
            reply = self._refusal(Refusal.BAD_REQUEST, str(exc), None)
        except Exception:
            _log.exception("media.request_failed", command=command)
            reply = self._refusal(Refusal.INTERNAL, "internal error", request)
        if msg.reply and self._bus is not None:
            await self._bus.respond(msg, reply)

    def _refusal(self, reason: Refusal, detail: str, request: BusMessage | None) -> MediaRefused:
        call_id = getattr(request, "call_id", None)
        _log.info("media.refused", reason=reason.value, detail=detail, call_id=call_id)
        return MediaRefused(
            reason=reason.value, detail=detail, call_id=call_id, node_id=self.node_id
        )

    def _ports(self, leg: Leg) -> RelayPorts:
        return RelayPorts(
            address=self.settings.media.announced_address,
            rtp_port=leg.rtp.port,
            rtcp_port=leg.rtcp.port,
        )

    def _peer(self, media: PeerMedia) -> PeerAddress:
        ip = media.address
        if ip is not None:
            parsed = ipaddress.ip_address(ip)
            if parsed.is_unspecified:
                ip = None
            elif (parsed.version == 6) != (self.plane.family.name == "AF_INET6"):
                raise Refused(
                    Refusal.BAD_REQUEST,
                    f"an IPv{parsed.version} peer cannot reach this relay's "
                    f"{self.settings.media.host} sockets",
                )
        return PeerAddress(
            ip=ip,
            rtp_port=media.port or None,
            rtcp_port=media.rtcp_port or None,
            codecs={c.payload_type: (c.name, c.clock_rate) for c in media.codecs},
            secure=media.secure,
        )

    async def _offer(self, request: OfferMedia) -> MediaOffered:
        session = await self.plane.offer(
            request.call_id,
            self._peer(request.peer),
            owner=request.owner,
            draining=self.draining(),
        )
        _log.debug("media.offered", call_id=request.call_id, a=session.a.rtp.port)
        return MediaOffered(
            call_id=session.call_id,
            node_id=self.node_id,
            a=self._ports(session.a),
            b=self._ports(session.b),
        )

    async def _answer(self, request: AnswerMedia) -> MediaAnswered:
        session = self.plane.answer(request.call_id, self._peer(request.peer))
        return MediaAnswered(
            call_id=session.call_id,
            node_id=self.node_id,
            a=self._ports(session.a),
            b=self._ports(session.b),
        )

    async def _delete(self, request: DeleteMedia) -> MediaDeleted:
        report = self.plane.delete(request.call_id)
        _log.debug("media.deleted", call_id=request.call_id, mos=report.mos)
        return MediaDeleted(call_id=request.call_id, node_id=self.node_id, stats=_stats(report))

    async def _query(self, request: QueryMedia) -> MediaQueried:
        report = self.plane.query(request.call_id)
        return MediaQueried(call_id=request.call_id, node_id=self.node_id, stats=_stats(report))

    async def _status(self, request: RelayStatusRequested) -> RelayStatus:
        return self.status()

    # -- timer ---------------------------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        interval = self.settings.media.sweep_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                _log.exception("media.sweep_failed")

    async def sweep(self) -> list[MediaTimedOut]:
        """End timed-out sessions (publishing ``MediaTimedOut``) and sample rate and CPU."""
        events = []
        for session, expiry, report in self.plane.expire():
            event = MediaTimedOut(
                node_id=self.node_id,
                call_id=session.call_id,
                owner=session.owner,
                reason=expiry.reason,
                leg=expiry.leg,
                idle_s=round(expiry.idle_s, 3),
                stats=_stats(report),
            )
            events.append(event)
            _log.info(
                "media.timed_out",
                call_id=session.call_id,
                reason=expiry.reason,
                leg=expiry.leg,
                idle_s=event.idle_s,
            )
            await self._publish(session, event)
        self._measure()
        return events

    async def _publish(self, session: MediaSession, event: MediaTimedOut) -> None:
        if self._bus is None:
            return
        try:
            await self._bus.publish(media_timeout_subject(session.owner), event)
        except BusError as exc:
            _log.warning("media.timeout_not_published", call_id=session.call_id, error=str(exc))

    def _measure(self) -> None:
        now, cpu, packets = self.clock(), time.process_time(), self.plane.table.packets()
        then, cpu_then, packets_then = self._sample
        elapsed = now - then
        if elapsed > 0:
            self.pps = max(0, packets - packets_then) / elapsed
            self.cpu = max(0.0, cpu - cpu_then) / elapsed
        self._sample = (now, cpu, packets)
