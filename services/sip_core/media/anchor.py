"""A call's media through an rtp_relay: the offer, the SDP rewrites, updates, and the end.

Leg *a* faces the caller, leg *b* the carrier (:mod:`libs.bus.media`). Only the first offer
waits for the relay (the INVITE to the carrier needs the relay's b-side ports), bounded by
``offer_timeout`` across at most :data:`MAX_RELAYS_TRIED` relays of the zone. Everything after
it is rewritten at once with the ports the offer returned — a relay keeps a call's ports for
its whole life — and the relay is told in the background, in order per call:

==============================  ===========================  ===================================
SDP from                        rewritten with               the relay is sent
==============================  ===========================  ===================================
the caller (INVITE, re-INVITE,  leg b's ports (to carrier)   ``OfferMedia`` (peer A moved)
UPDATE, answer to the callee's
in a 2xx or in an ACK)
the carrier (183, 200, re-      leg a's ports (to caller)    ``AnswerMedia`` (peer B; arms the
INVITE, answer to the caller's                               relay's media timeout)
in a 2xx or in an ACK)
==============================  ===========================  ===================================

A *late offer* (an INVITE without SDP, RFC 3261 §13.2.1; RFC 3264) is anchored the same way:
:meth:`MediaController.late_offer` asks the relay for ports before the INVITE leaves, with a
peer A of unknown address (the relay latches leg a on the first source until the caller's
answer names it). The carrier's offer then comes in its 183/200 (rows "the carrier") and the
caller's answer in its ACK (rows "the caller"); which stream is anchored is only known from
the carrier's offer, and is chosen again from each SDP of the carrier until the caller has
answered (a failover's carrier may order its streams otherwise).

A failover to the next carrier keeps the session: the same offer goes out, and the new
carrier's answer moves leg b. :meth:`MediaSession.close` deletes the session and returns its
statistics for the CDR (or the statistics a ``MediaTimedOut`` already carried).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Counter, Histogram

from libs.bus import BusConnector, BusError, Msg, Subscription
from libs.bus.cdr import MediaLegStats
from libs.bus.media import (
    AnswerMedia,
    Codec,
    DeleteMedia,
    MediaOffered,
    MediaStats,
    MediaTimedOut,
    OfferMedia,
    PeerMedia,
    RelayPorts,
    RelayRefused,
    StreamStats,
    media_timeout_subject,
    request_media,
)
from services.sip_core.media.relays import RelayDirectory
from services.sip_core.sip.sdp import MediaDescription, SdpError, parse_sdp, rewrite_sdp

__all__ = [
    "MAX_RELAYS_TRIED",
    "MediaController",
    "MediaSession",
    "MediaUnavailable",
    "leg_stats",
]

_log = structlog.get_logger(__name__)

#: Relays tried for one call's first offer (within the one ``offer_timeout``).
MAX_RELAYS_TRIED = 3
#: Seconds a relay that refused or did not answer gets no new calls.
SET_ASIDE = 5.0

OFFERS = Counter("tandem_media_offers_total", "First offers to a relay by outcome", ["outcome"])
OFFER_SECONDS = Histogram(
    "tandem_media_offer_seconds",
    "From asking a relay for ports to its reply",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
UPDATES_FAILED = Counter("tandem_media_updates_failed_total", "Offers/answers a relay refused")


class MediaUnavailable(Exception):
    """No relay could anchor the call (the text says why)."""


def leg_stats(stream: StreamStats) -> MediaLegStats:
    """One direction's figures, as the CDR carries them."""
    mos = stream.mos if stream.mos is not None and 1 <= stream.mos <= 5 else None
    return MediaLegStats(
        packets=stream.packets,
        bytes=stream.bytes,
        lost=stream.lost,
        jitter_ms=stream.jitter_ms,
        mos=mos,
    )


def peer_media(stream: MediaDescription, signalling_host: str | None) -> PeerMedia:
    """What the relay should expect from the peer that wrote ``stream``.

    An endpoint behind NAT writes its private address in SDP while its packets come from the
    NAT's public one; the relay would drop them all, as from a stranger. So a private address
    from a peer that signals from a public one is replaced by the signalling address (the
    relay then latches on any port of it).
    """
    address = stream.ip
    if address is not None and signalling_host is not None:
        try:
            sdp_ip = ipaddress.ip_address(address)
            source = ipaddress.ip_address(signalling_host)
        except ValueError:
            pass
        else:
            if sdp_ip.is_private and not source.is_private and sdp_ip.version == source.version:
                address = str(source)
    return PeerMedia(
        address=address,
        port=stream.port or None,
        rtcp_port=stream.rtcp_port,
        codecs=tuple(
            Codec(payload_type=m.payload_type, name=m.name[:64], clock_rate=m.clock_rate)
            for m in stream.rtpmaps
            if m.clock_rate <= 1_000_000
        ),
        secure=stream.secure,
    )


@dataclass(frozen=True, slots=True)
class Offer:
    """A parsed offer from the caller: what to anchor, ready for :meth:`MediaController.open`.

    A late offer (:meth:`MediaController.late_offer`) has no body, no stream yet (the
    carrier's offer will name it) and a peer without address.
    """

    body: bytes
    stream: int | None
    peer: PeerMedia


_LATE_OFFER = Offer(b"", None, PeerMedia())


class MediaSession:
    """One call's media on one relay."""

    def __init__(
        self,
        controller: MediaController,
        call_id: str,
        offered: MediaOffered,
        stream: int | None,
        a_host: str | None,
    ) -> None:
        self._controller = controller
        self.call_id = call_id
        self.relay = offered.node_id
        self.a: RelayPorts = offered.a
        self.b: RelayPorts = offered.b
        #: The anchored stream's index in every SDP of the call (RFC 3264 §6: by position).
        self.stream = stream
        #: A late offer whose stream is (re)chosen from the carrier's SDP until A answers.
        self.late = stream is None
        self.a_host = a_host
        #: The carrier's signalling address, for the NAT rule (set per attempt).
        self.b_host: str | None = None
        #: Final statistics, once known (delete reply or a ``MediaTimedOut``).
        self.stats: MediaStats | None = None
        #: Gone on the relay (deleted, timed out, or the relay vanished).
        self.closed = False
        self._lock = asyncio.Lock()

    def _rewrite(
        self, body: bytes, ports: RelayPorts, *, choose: bool = False
    ) -> tuple[bytes, MediaDescription | None]:
        parsed = parse_sdp(body)
        index = self.stream
        if choose or index is None:
            # A late offer: the carrier's offer names the stream (its first audio over RTP).
            index = parsed.anchor_index()
            if index is None:
                raise SdpError("the SDP has no audio stream to anchor")
            self.stream = index
        if index >= len(parsed.media):
            raise SdpError("the SDP lacks the anchored media stream")
        out = rewrite_sdp(
            body,
            index,
            address=ports.address,
            rtp_port=ports.rtp_port,
            rtcp_port=ports.rtcp_port,
        )
        stream = parsed.media[index]
        return out, stream if stream.active else None

    def towards_b(self, body: bytes) -> bytes:
        """The caller's offer as it goes to a carrier (the first INVITE, or a failover's).

        Raises:
            SdpError: ``body`` cannot be read.
        """
        return self._rewrite(body, self.b)[0]

    def from_a(self, body: bytes) -> bytes:
        """SDP from the caller, rewritten for the carrier; the relay learns where A now is.

        Raises:
            SdpError: ``body`` cannot be read (nothing is sent to the relay).
        """
        out, stream = self._rewrite(body, self.b)
        self.late = False  # A answered (or offered): the stream is settled
        if stream is not None:
            peer = peer_media(stream, self.a_host)
            self._update(OfferMedia(call_id=self.call_id, peer=peer, owner=self._owner))
        return out

    def from_b(self, body: bytes) -> bytes:
        """SDP from the carrier, rewritten for the caller; the relay learns where B is.

        Raises:
            SdpError: ``body`` cannot be read (nothing is sent to the relay).
        """
        out, stream = self._rewrite(body, self.a, choose=self.late)
        if stream is not None:
            peer = peer_media(stream, self.b_host)
            self._update(AnswerMedia(call_id=self.call_id, peer=peer))
        return out

    @property
    def _owner(self) -> str:
        return self._controller.node_id

    def _update(self, request: OfferMedia | AnswerMedia) -> None:
        if self.closed:
            return
        self._controller.spawn(self._send(request))

    async def _send(self, request: OfferMedia | AnswerMedia) -> None:
        # FIFO lock: updates reach the relay in the order the SDP went through the call.
        async with self._lock:
            if self.closed:
                return
            try:
                bus = self._controller.connector.bus
                await request_media(
                    bus, self.relay, request, timeout=self._controller.request_timeout
                )
            except (BusError, RelayRefused) as exc:
                UPDATES_FAILED.inc()
                _log.warning(
                    "media.update_failed",
                    call_id=self.call_id,
                    relay=self.relay,
                    request=type(request).__name__,
                    error=str(exc),
                )

    def timed_out(self, event: MediaTimedOut) -> None:
        """The relay ended the session by itself: keep its final statistics."""
        self.stats = event.stats
        self.closed = True

    def lost(self) -> None:
        """The relay is gone: nothing to delete, no statistics."""
        self.closed = True

    async def close(self) -> MediaStats | None:
        """Delete the session on the relay; its final statistics (None if unobtainable)."""
        async with self._lock:
            if self.closed:
                return self.stats
            self.closed = True
            try:
                deleted = await request_media(
                    self._controller.connector.bus,
                    self.relay,
                    DeleteMedia(call_id=self.call_id),
                    timeout=self._controller.request_timeout,
                )
            except (BusError, RelayRefused) as exc:
                _log.warning(
                    "media.delete_failed", call_id=self.call_id, relay=self.relay, error=str(exc)
                )
                return None
            self.stats = deleted.stats
            return self.stats


class MediaController:
    """This node's side of the media plane: relay choice, first offers, time-out events."""

    def __init__(
        self,
        connector: BusConnector,
        directory: RelayDirectory,
        *,
        node_id: str,
        offer_timeout: float = 1.0,
        request_timeout: float = 2.0,
    ) -> None:
        self.connector = connector
        self.directory = directory
        self.node_id = node_id
        self.offer_timeout = offer_timeout
        self.request_timeout = request_timeout
        #: Called with each ``MediaTimedOut`` addressed to this node.
        self.on_timed_out: Callable[[MediaTimedOut], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._subscription: Subscription | None = None
        self._subscriber: asyncio.Task[None] | None = None

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        self.directory.start()
        if self._subscriber is None:
            self._subscriber = asyncio.get_running_loop().create_task(
                self._subscribe(), name="media-timeouts"
            )

    async def _subscribe(self) -> None:
        bus = await self.connector.wait_connected()
        subject = media_timeout_subject(self.node_id)
        self._subscription = await bus.subscribe(subject, self._on_timed_out)
        await bus.nc.flush(timeout=max(1, int(self.request_timeout)))

    async def stop(self) -> None:
        subscriber, self._subscriber = self._subscriber, None
        if subscriber is not None:
            subscriber.cancel()
            await asyncio.gather(subscriber, return_exceptions=True)
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            try:
                await subscription.unsubscribe()
            except Exception as exc:  # a closed connection: nothing left to undo
                _log.debug("media.unsubscribe_failed", error=str(exc))
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.request_timeout + 1)
        await self.directory.stop()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` in the background, referenced until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _on_timed_out(self, msg: Msg) -> None:
        event = MediaTimedOut.from_bytes(msg.data)
        if self.on_timed_out is not None:
            self.on_timed_out(event)

    # -- offers ------------------------------------------------------------------------------

    @staticmethod
    def read_offer(body: bytes, signalling_host: str | None) -> Offer | None:
        """The caller's SDP as an offer to anchor; None if it has no audio stream to anchor.

        Raises:
            SdpError: ``body`` cannot be read.
        """
        parsed = parse_sdp(body)
        index = parsed.anchor_index()
        if index is None:
            return None
        return Offer(body, index, peer_media(parsed.media[index], signalling_host))

    @staticmethod
    def late_offer() -> Offer:
        """What to anchor for an INVITE without SDP (a late offer, RFC 3261 §13.2.1).

        Ports are allocated before the INVITE leaves, as for an offer in the INVITE, so the
        carrier's offer in its 183/200 can be rewritten at once; peer A's address is unknown
        until the caller's answer (in its ACK) and the relay latches leg a meanwhile on the
        first source, releasing that latch if the answer names another address.
        """
        return _LATE_OFFER

    async def open(
        self, call_id: str, offer: Offer, zone: str, *, a_host: str | None
    ) -> MediaSession:
        """Anchor the call on the least-loaded relay of ``zone`` that accepts it.

        Raises:
            MediaUnavailable: no relay of the zone answered within ``offer_timeout``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.offer_timeout
        tried: set[str] = set()
        why = f"no live relay in zone {zone!r}"
        if not self.connector.connected:
            OFFERS.labels("no_bus").inc()
            raise MediaUnavailable("not connected to NATS")
        request = OfferMedia(call_id=call_id, peer=offer.peer, owner=self.node_id)
        while len(tried) < MAX_RELAYS_TRIED:
            relay = self.directory.choose(zone, exclude=frozenset(tried))
            left = deadline - loop.time()
            if relay is None or left <= 0:
                break
            tried.add(relay.node_id)
            started = loop.time()
            try:
                offered = await request_media(
                    self.connector.bus, relay.node_id, request, timeout=left
                )
            except RelayRefused as exc:
                why = f"relay {relay.node_id} refused: {exc.reason}"
                if exc.reason == "bad_request":
                    break  # another relay would refuse the same request
                self.directory.set_aside(relay.node_id, SET_ASIDE)
                continue
            except BusError as exc:
                why = f"relay {relay.node_id} did not answer: {exc}"
                self.directory.set_aside(relay.node_id, SET_ASIDE)
                # It may have allocated ports after all: free them rather than wait for the
                # relay's setup timeout to find the orphan.
                self.spawn(self._forget(relay.node_id, call_id))
                continue
            self.directory.placed(relay.node_id)
            OFFER_SECONDS.observe(loop.time() - started)
            OFFERS.labels("ok").inc()
            return MediaSession(self, call_id, offered, offer.stream, a_host)
        OFFERS.labels("unavailable").inc()
        _log.info("media.unavailable", call_id=call_id, zone=zone, why=why)
        raise MediaUnavailable(why)

    async def _forget(self, relay: str, call_id: str) -> None:
        with contextlib.suppress(BusError, RelayRefused):
            await request_media(
                self.connector.bus,
                relay,
                DeleteMedia(call_id=call_id),
                timeout=self.request_timeout,
            )

    def discard(self, session: MediaSession) -> None:
        """Delete ``session`` in the background (its call ended before it was used)."""
        self.spawn(session.close())
