"""Media sessions: two legs, each an RTP and an RTCP endpoint; latching; per-stream statistics.

Implements, from RFC 3550: the RTP fixed header (§5.1), sequence number tracking with 16-bit
wrap-around, extended highest sequence and loss (Appendix A.1, A.3), interarrival jitter
(§6.4.1, Appendix A.8), sender/receiver report layout (§6.4.1, §6.4.2) for the round-trip time
(LSR/DLSR, §6.4.1); RTP/RTCP told apart on one port by payload type (RFC 5761 §4); static payload
types and clock rates (RFC 3551 §6); the RTCP port defaults to RTP + 1 unless ``a=rtcp`` says
otherwise (RFC 3605). Skipped: the A.1 *probation* of a new source (MIN_SEQUENTIAL: the first
packet of a source is believed), RTCP reports *generated* by the relay (it forwards the peers'
own, untouched), SRTCP bodies (encrypted: only counted), several media streams per call.

Topology (one session per call)::

    peer A <-> [leg a: RTP port pa, RTCP pa+1] relay [leg b: RTP port pb, RTCP pb+1] <-> peer B

An :class:`Endpoint` is one relay socket facing one peer. Its ``twin`` is the endpoint of the
same kind on the other leg: what arrives on an endpoint leaves through its twin's socket towards
the twin's ``send_to`` address. Statistics are kept where packets *arrive*: leg a's figures
describe the stream peer A sends.

Latching (symmetric RTP, the NAT rule): an endpoint accepts its first packet from the expected
IP address (any port: a NAT rewrites ports) or, with no expected address, from anyone; that
source becomes the endpoint's ``peer``, and the twin's packets go back to it. Packets from any
other source are dropped and counted. The latch moves to a new source only after the peer has
been silent for ``relatch_after`` seconds (NAT rebinding, a media server failing over) and only
to a source from the expected IP when one is known; a re-offer/answer naming a different IP
releases the latch at once.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from services.rtp_relay.core.quality import impairment_for, mos_from_r, r_factor

__all__ = [
    "RTCP_RELATCH_AFTER",
    "Endpoint",
    "Expiry",
    "Leg",
    "MediaSession",
    "MediaTable",
    "PeerAddress",
    "Refusal",
    "Refused",
    "RtcpEndpoint",
    "RtpEndpoint",
    "SessionReport",
    "StreamReport",
]

Addr = tuple[str, int] | tuple[str, int, int, int]
"""A socket address as the event loop reports it (IPv4 2-tuple, IPv6 4-tuple)."""

_RTP_HEADER = struct.Struct("!HHII")  # V/P/X/CC + M/PT, sequence, timestamp, SSRC (§5.1)
# 1 where the first 16 bits start an RTP packet: version 2 (§5.1) and a second byte outside
# 192-223, which on a shared port is RTCP (RFC 5761 §4). One lookup per packet instead of a
# chain of comparisons: the hot path is paid in bytecodes.
_IS_RTP = bytes(
    1 if first & 0xC000 == 0x8000 and first & 0xE0 != 0xC0 else 0 for first in range(0x10000)
)
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_LSR_DLSR = struct.Struct("!II")

# RFC 3550 A.1: a jump of up to MAX_DROPOUT ahead is loss; up to MAX_MISORDER behind is a late
# packet; anything else is a restart, believed once the next packet follows it.
_MAX_DROPOUT = 3000
_MAX_MISORDER = 100
_SEQ_MOD = 0x10000

#: RTCP goes out every 5 s at least (RFC 3550 §6.2): its latch may move only after three missed
#: reports, or every silence between two reports would be a window for a stranger.
RTCP_RELATCH_AFTER = 15.0

# RFC 3551 §6, table 4: static payload types (name, clock rate).
_STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int]] = {
    0: ("PCMU", 8000),
    3: ("GSM", 8000),
    4: ("G723", 8000),
    5: ("DVI4", 8000),
    6: ("DVI4", 16000),
    7: ("LPC", 8000),
    8: ("PCMA", 8000),
    9: ("G722", 8000),  # 8000 on the wire although sampled at 16 kHz (RFC 3551 §4.5.2)
    10: ("L16", 44100),
    11: ("L16", 44100),
    12: ("QCELP", 8000),
    13: ("CN", 8000),
    14: ("MPA", 90000),
    15: ("G728", 8000),
    16: ("DVI4", 11025),
    17: ("DVI4", 22050),
    18: ("G729", 8000),
}
# Not audio frames: their timestamps are not sample clocks (an RFC 4733 event keeps the event's
# start time in every packet), so they would inflate the jitter of the voice stream.
_NOT_AUDIO = frozenset({"TELEPHONE-EVENT", "CN"})
DEFAULT_CLOCK_RATE = 8000


class Refusal(StrEnum):
    """Why the relay refused a control request (the ``reason`` of ``MediaRefused``)."""

    BAD_REQUEST = "bad_request"
    UNKNOWN_SESSION = "unknown_session"
    NO_PORTS = "no_ports"
    DRAINING = "draining"
    INTERNAL = "internal"


class Refused(Exception):
    """A control request the relay will not carry out (an expected outcome, not a crash)."""

    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """What a leg's SDP says: where its media comes from and goes to, and its codecs.

    ``ip`` None (or unspecified) means unknown: the first source latches and nothing is sent to
    the peer before it. ``codecs`` maps dynamic payload types to ``(name, clock rate)``.
    """

    ip: str | None = None
    rtp_port: int | None = None
    rtcp_port: int | None = None
    codecs: Mapping[int, tuple[str, int]] = field(default_factory=dict)
    secure: bool = False

    @property
    def rtcp(self) -> int | None:
        """The RTCP port: ``a=rtcp`` when given, else RTP + 1 (RFC 3605, RFC 3550 §11)."""
        if self.rtcp_port:
            return self.rtcp_port
        return self.rtp_port + 1 if self.rtp_port else None


def _format(addr: Addr | None) -> str | None:
    if addr is None:
        return None
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Endpoint:
    """One relay socket facing one peer: its latch and its traffic counters.

    :meth:`admit` runs only for a packet whose source is not the latched ``peer`` (the adapter
    compares first), :meth:`received` for every admitted packet.
    """

    __slots__ = (
        "dropped",
        "expected_ip",
        "last_rx",
        "octets",
        "packets",
        "peer",
        "port",
        "relatch_after",
        "relatched",
        "send_to",
        "target",
        "twin",
        "unrouted",
    )

    def __init__(self, port: int, *, relatch_after: float) -> None:
        self.port = port
        self.relatch_after = relatch_after
        self.expected_ip: str | None = None
        #: Where to send before the peer latches (the SDP's address), or None.
        self.target: Addr | None = None
        #: The latched source: the only one whose packets are relayed.
        self.peer: Addr | None = None
        #: Where the twin's packets go: the latched peer, else the target.
        self.send_to: Addr | None = None
        self.last_rx = -math.inf
        self.packets = 0
        self.octets = 0
        self.dropped = 0
        self.unrouted = 0
        self.relatched = 0
        self.twin: Endpoint = self

    def expect(self, ip: str | None, port: int | None) -> None:
        """Take the peer's address from (re-)negotiated SDP.

        An unknown ``ip`` (hold with ``c=0.0.0.0``) keeps the address packets must come from.
        A different IP releases a latch on another address; the same IP keeps it (the port in
        SDP means little behind a NAT).
        """
        if ip is None:
            self.target = None
        else:
            if self.peer is not None and self.peer[0] != ip:
                self.peer = None
            self.expected_ip = ip
            self.target = (ip, port) if port else None
        self.send_to = self.peer or self.target

    def admit(self, addr: Addr, now: float) -> bool:
        """Whether a packet from ``addr`` (not the latched peer) is relayed; latch if so."""
        expected = self.expected_ip
        if expected is not None and addr[0] != expected:
            self.dropped += 1
            return False
        if self.peer is not None:
            if now - self.last_rx < self.relatch_after:
                self.dropped += 1
                return False
            self.relatched += 1
        self.peer = addr
        self.send_to = addr
        return True

    def received(self, data: bytes, now: float) -> None:
        """Count an admitted packet."""
        self.last_rx = now
        self.packets += 1
        self.octets += len(data)


class RtpEndpoint(Endpoint):
    """An RTP endpoint: also keeps RFC 3550 receiver statistics of the stream it receives."""

    __slots__ = (
        "audio_pt",
        "bad_seq",
        "base_seq",
        "clock_rate",
        "codec",
        "codecs",
        "cycles",
        "expected_prior",
        "jitter",
        "max_seq",
        "non_rtp",
        "pt",
        "received_prior",
        "rx",
        "ssrc",
        "transit",
    )

    def __init__(
        self, port: int, *, relatch_after: float, codecs: Mapping[int, tuple[str, int]]
    ) -> None:
        super().__init__(port, relatch_after=relatch_after)
        self.codecs = codecs
        self.ssrc = -1  # none seen yet (a real SSRC is 0..2**32-1)
        self.pt = -1  # the last payload type that was not the voice codec's
        self.audio_pt = -1
        self.codec: str | None = None
        self.clock_rate = float(DEFAULT_CLOCK_RATE)  # float: float x float is the fast multiply
        self.base_seq = 0
        self.max_seq = 0
        self.bad_seq = _SEQ_MOD + 1
        self.cycles = 0
        self.rx = 0  # valid packets of the current source (A.1 "received")
        self.expected_prior = 0  # of earlier sources / sequence restarts
        self.received_prior = 0
        self.transit = 0.0  # relative transit time of the last voice packet (A.8)
        self.jitter = 0.0  # in timestamp units (A.8)
        self.non_rtp = 0

    def received(self, data: bytes, now: float) -> None:
        """Count an admitted packet and update loss and jitter from its RTP header.

        Per packet: one ``unpack_from`` of the 12-byte fixed header, integer and float
        arithmetic on slots; no object of ours is created.
        """
        self.last_rx = now
        self.packets += 1
        self.octets += len(data)
        try:
            first, seq, ts, ssrc = _RTP_HEADER.unpack_from(data)
        except struct.error:  # shorter than the fixed header
            self.non_rtp += 1
            return
        if not _IS_RTP[first]:
            self.non_rtp += 1
            return
        if ssrc != self.ssrc:
            self._new_source(ssrc, first & 0x7F, seq, ts, now)
            return
        # RFC 3550 A.1 update_seq
        udelta = (seq - self.max_seq) & 0xFFFF
        if udelta < _MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += _SEQ_MOD  # wrapped around
            self.max_seq = seq
        elif udelta <= _SEQ_MOD - _MAX_MISORDER:
            if seq != self.bad_seq:
                self.bad_seq = (seq + 1) & 0xFFFF
                return  # a very large jump: not believed until the next packet follows it
            self._restart_sequence(seq)
        # else: a duplicate or late packet; counted as received, as A.1 does
        self.rx += 1
        pt = first & 0x7F
        if pt == self.audio_pt:
            # RFC 3550 A.8: D(i,j) = (Rj - Sj) - (Ri - Si), the change of the relative transit
            # time, in timestamp units; J += (|D| - J) / 16.
            transit = now * self.clock_rate - ts
            d = transit - self.transit
            self.transit = transit
            if d < 0:
                d = -d
            if d > 2147483648.0:  # the 32-bit timestamp wrapped between the two packets
                # Modulo 2^32 first (a wrap plus the time elapsed can put |D| above 2^32),
                # then the shorter way round: never negative.
                d %= 4294967296.0
                if d > 2147483648.0:
                    d = 4294967296.0 - d
            self.jitter += (d - self.jitter) * 0.0625
        elif pt != self.pt:
            self._payload_type(pt, ts, now)

    def _new_source(self, ssrc: int, pt: int, seq: int, ts: int, now: float) -> None:
        """First packet of a (new) synchronisation source: start its sequence afresh."""
        if self.ssrc >= 0:
            self._fold_epoch()
        self.ssrc = ssrc
        self.base_seq = self.max_seq = seq
        self.bad_seq = _SEQ_MOD + 1
        self.cycles = 0
        self.rx = 1
        if pt != self.audio_pt:
            self._payload_type(pt, ts, now)
        self.transit = now * self.clock_rate - ts

    def _restart_sequence(self, seq: int) -> None:
        """The source jumped and kept going: A.1 init_seq, keeping what came before."""
        self._fold_epoch()
        self.base_seq = self.max_seq = seq
        self.bad_seq = _SEQ_MOD + 1
        self.cycles = 0
        self.rx = 0

    def _fold_epoch(self) -> None:
        self.expected_prior += self.cycles + self.max_seq - self.base_seq + 1
        self.received_prior += self.rx

    def _payload_type(self, pt: int, ts: int, now: float) -> None:
        """A payload type other than the voice codec's: an event, comfort noise, or a new codec
        (whose timestamps start a new jitter baseline, at its own clock rate)."""
        self.pt = pt
        name, rate = self.codecs.get(pt) or _STATIC_PAYLOAD_TYPES.get(pt) or (None, 0)
        if name is not None and name.upper() in _NOT_AUDIO:
            return
        self.audio_pt = pt
        self.codec = name
        if rate:
            self.clock_rate = float(rate)
        self.transit = now * self.clock_rate - ts

    @property
    def expected(self) -> int:
        """Packets the sequence numbers say were sent (A.3: extended max - base + 1)."""
        if self.ssrc < 0:
            return 0
        return self.expected_prior + self.cycles + self.max_seq - self.base_seq + 1

    @property
    def lost(self) -> int:
        """Expected minus received, never negative (duplicates can make it so, A.3)."""
        return max(0, self.expected - self.received_prior - self.rx)

    @property
    def jitter_ms(self) -> float:
        return self.jitter * 1000.0 / self.clock_rate


class RtcpEndpoint(Endpoint):
    """An RTCP endpoint: counts packets and takes the round-trip time from report blocks.

    When peer A's sender report (NTP middle 32 bits = X) crosses the relay at ``t``, and peer
    B's report block later quotes LSR = X with DLSR = D, arriving at ``t'``, then
    ``t' - t - D`` is the round trip relay -> B -> relay (RFC 3550 §6.4.1).
    """

    __slots__ = ("malformed", "rtt", "secure", "sr_seen")

    _SR_MEMORY = 8

    def __init__(self, port: int, *, relatch_after: float) -> None:
        super().__init__(port, relatch_after=relatch_after)
        self.secure = False  # SRTCP: everything after the first 8 bytes is encrypted
        self.sr_seen: dict[int, float] = {}
        self.rtt: float | None = None
        self.malformed = 0

    def received(self, data: bytes, now: float) -> None:
        self.last_rx = now
        self.packets += 1
        self.octets += len(data)
        if not self.secure:
            self._parse(data, now)

    def _parse(self, data: bytes, now: float) -> None:
        """Walk a compound packet (bounded by its length fields); bad input is counted."""
        end = len(data)
        offset = 0
        while offset + 8 <= end:
            b0, pt = data[offset], data[offset + 1]
            length = (_U16.unpack_from(data, offset + 2)[0] + 1) * 4
            if b0 & 0xC0 != 0x80 or offset + length > end:
                self.malformed += 1
                return
            count = b0 & 0x1F
            if pt == 200 and length >= 28:  # SR, §6.4.1: NTP timestamp at +8
                self._remember_sr(_U32.unpack_from(data, offset + 10)[0], now)
                self._report_blocks(data, offset + 28, count, offset + length, now)
            elif pt == 201:  # RR, §6.4.2
                self._report_blocks(data, offset + 8, count, offset + length, now)
            offset += length

    def _remember_sr(self, ntp_middle: int, now: float) -> None:
        seen = self.sr_seen
        seen[ntp_middle] = now
        if len(seen) > self._SR_MEMORY:
            del seen[next(iter(seen))]

    def _report_blocks(self, data: bytes, start: int, count: int, end: int, now: float) -> None:
        twin = self.twin
        if not isinstance(twin, RtcpEndpoint):
            return
        for i in range(count):
            block = start + 24 * i
            if block + 24 > end:
                self.malformed += 1
                return
            lsr, dlsr = _LSR_DLSR.unpack_from(data, block + 16)
            sent = twin.sr_seen.get(lsr) if lsr else None
            if sent is not None:
                rtt = now - sent - dlsr / 65536.0
                if 0.0 <= rtt < 60.0:
                    self.rtt = rtt


@dataclass(frozen=True, slots=True)
class StreamReport:
    """What one leg's peer sent to the relay, with its quality (field names = the bus's)."""

    peer: str | None
    rtcp_peer: str | None
    packets: int
    bytes: int
    lost: int
    loss_pct: float
    jitter_ms: float
    rtt_ms: float | None
    r_factor: float | None
    mos: float | None
    rtcp_packets: int
    rtcp_bytes: int
    dropped: int
    unrouted: int
    relatched: int
    non_rtp: int
    ssrc: int | None
    payload_type: int | None
    codec: str | None
    clock_rate: int
    idle_s: float | None


@dataclass(frozen=True, slots=True)
class SessionReport:
    """A session's statistics: leg a's stream (from the caller), leg b's (from the callee)."""

    call_id: str
    duration_s: float
    answered: bool
    a: StreamReport
    b: StreamReport
    mos: float | None  # the worse direction: what the CDR shows


class Leg:
    """One side of the call: the RTP and RTCP endpoints facing one peer."""

    __slots__ = ("name", "rtcp", "rtp")

    def __init__(
        self,
        name: Literal["a", "b"],
        rtp_port: int,
        *,
        relatch_after: float,
        codecs: Mapping[int, tuple[str, int]],
    ) -> None:
        self.name = name
        self.rtp = RtpEndpoint(rtp_port, relatch_after=relatch_after, codecs=codecs)
        self.rtcp = RtcpEndpoint(rtp_port + 1, relatch_after=max(relatch_after, RTCP_RELATCH_AFTER))

    def expect(self, peer: PeerAddress) -> None:
        self.rtp.expect(peer.ip, peer.rtp_port)
        self.rtcp.expect(peer.ip, peer.rtcp)
        self.rtcp.secure = peer.secure

    @property
    def last_rx(self) -> float:
        return max(self.rtp.last_rx, self.rtcp.last_rx)

    def report(self, now: float, other: Leg) -> StreamReport:
        rtp, rtcp = self.rtp, self.rtcp
        expected = rtp.expected
        lost = rtp.lost
        loss_pct = 100.0 * lost / expected if expected else 0.0
        jitter_ms = rtp.jitter_ms
        r: float | None = None
        mos: float | None = None
        if rtp.rx or rtp.received_prior:
            # One-way delay caller -> callee: half of each leg's round trip to the relay, for
            # the legs whose RTCP gave one (0 otherwise: the MOS is then an upper bound).
            delay_ms = 500.0 * ((rtcp.rtt or 0.0) + (other.rtcp.rtt or 0.0))
            ie, bpl = impairment_for(rtp.codec)
            r = r_factor(delay_ms, jitter_ms, loss_pct, ie=ie, bpl=bpl)
            mos = round(mos_from_r(r), 2)
            r = round(r, 1)
        last = self.last_rx
        return StreamReport(
            peer=_format(rtp.peer),
            rtcp_peer=_format(rtcp.peer),
            packets=rtp.packets,
            bytes=rtp.octets,
            lost=lost,
            loss_pct=round(loss_pct, 3),
            jitter_ms=round(jitter_ms, 3),
            rtt_ms=None if rtcp.rtt is None else round(rtcp.rtt * 1000.0, 2),
            r_factor=r,
            mos=mos,
            rtcp_packets=rtcp.packets,
            rtcp_bytes=rtcp.octets,
            dropped=rtp.dropped + rtcp.dropped,
            unrouted=rtp.unrouted + rtcp.unrouted,
            relatched=rtp.relatched + rtcp.relatched,
            non_rtp=rtp.non_rtp,
            ssrc=rtp.ssrc if rtp.ssrc >= 0 else None,
            payload_type=rtp.audio_pt if rtp.audio_pt >= 0 else None,
            codec=rtp.codec,
            clock_rate=int(rtp.clock_rate),
            idle_s=None if last == -math.inf else round(max(0.0, now - last), 3),
        )


@dataclass(frozen=True, slots=True)
class Expiry:
    """A session the relay ends by itself, and why."""

    reason: Literal["media_timeout", "setup_timeout"]
    leg: Literal["a", "b"] | None  # the silent leg (media_timeout)
    idle_s: float


class MediaSession:
    """The media of one call: leg a (the caller, from the offer) and leg b (the callee)."""

    __slots__ = ("a", "answered_at", "b", "call_id", "codecs", "created_at", "owner")

    def __init__(
        self,
        call_id: str,
        a_port: int,
        b_port: int,
        now: float,
        *,
        owner: str | None = None,
        relatch_after: float = 3.0,
    ) -> None:
        self.call_id = call_id
        self.owner = owner
        self.created_at = now
        self.answered_at: float | None = None
        #: Payload type -> (name, clock rate), from both SDPs (shared by the RTP endpoints).
        self.codecs: dict[int, tuple[str, int]] = {}
        self.a = Leg("a", a_port, relatch_after=relatch_after, codecs=self.codecs)
        self.b = Leg("b", b_port, relatch_after=relatch_after, codecs=self.codecs)
        self.a.rtp.twin, self.b.rtp.twin = self.b.rtp, self.a.rtp
        self.a.rtcp.twin, self.b.rtcp.twin = self.b.rtcp, self.a.rtcp

    @property
    def endpoints(self) -> tuple[Endpoint, Endpoint, Endpoint, Endpoint]:
        return (self.a.rtp, self.a.rtcp, self.b.rtp, self.b.rtcp)

    @property
    def packets(self) -> int:
        return sum(endpoint.packets for endpoint in self.endpoints)

    def offer(self, peer: PeerAddress) -> None:
        """The caller's SDP (first offer or a re-offer)."""
        self.codecs.update(peer.codecs)
        self.a.expect(peer)

    def answer(self, peer: PeerAddress, now: float) -> None:
        """The callee's SDP (183, 200 or a later answer); arms the media timeout."""
        self.codecs.update(peer.codecs)
        self.b.expect(peer)
        if self.answered_at is None:
            self.answered_at = now

    def expiry(self, now: float, *, media_timeout: float, setup_timeout: float) -> Expiry | None:
        """Whether the session should end: a leg silent for ``media_timeout`` since the answer,
        or no answer ``setup_timeout`` after the offer (an orphan of a crashed sip_core)."""
        if self.answered_at is None:
            waited = now - self.created_at
            if waited >= setup_timeout:
                return Expiry("setup_timeout", None, waited)
            return None
        idle_a = now - max(self.answered_at, self.a.last_rx)
        idle_b = now - max(self.answered_at, self.b.last_rx)
        leg: Literal["a", "b"] = "a" if idle_a >= idle_b else "b"
        idle = max(idle_a, idle_b)
        if idle >= media_timeout:
            return Expiry("media_timeout", leg, idle)
        return None

    def report(self, now: float) -> SessionReport:
        a = self.a.report(now, self.b)
        b = self.b.report(now, self.a)
        scores = [s for s in (a.mos, b.mos) if s is not None]
        return SessionReport(
            call_id=self.call_id,
            duration_s=round(now - self.created_at, 3),
            answered=self.answered_at is not None,
            a=a,
            b=b,
            mos=min(scores) if scores else None,
        )


class MediaTable:
    """The relay's sessions by call id, and the time-outs that end them."""

    __slots__ = ("_sessions", "media_timeout", "relatch_after", "retired_packets", "setup_timeout")

    def __init__(self, *, media_timeout: float, setup_timeout: float, relatch_after: float) -> None:
        self.media_timeout = media_timeout
        self.setup_timeout = setup_timeout
        self.relatch_after = relatch_after
        self._sessions: dict[str, MediaSession] = {}
        #: Packets of sessions already removed (for the relay's packet rate).
        self.retired_packets = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._sessions

    def sessions(self) -> list[MediaSession]:
        return list(self._sessions.values())

    def get(self, call_id: str) -> MediaSession:
        """Raises: Refused(UNKNOWN_SESSION)."""
        try:
            return self._sessions[call_id]
        except KeyError:
            raise Refused(Refusal.UNKNOWN_SESSION, "no media session with this call id") from None

    def add(self, session: MediaSession) -> None:
        self._sessions[session.call_id] = session

    def remove(self, call_id: str) -> MediaSession:
        """Raises: Refused(UNKNOWN_SESSION)."""
        session = self.get(call_id)
        del self._sessions[call_id]
        self.retired_packets += session.packets
        return session

    def packets(self) -> int:
        """Packets relayed since start (removed sessions included)."""
        return self.retired_packets + sum(s.packets for s in self._sessions.values())

    def expired(self, now: float) -> list[tuple[MediaSession, Expiry]]:
        """Sessions that time out at ``now`` (not removed: the caller removes them)."""
        found = []
        for session in self._sessions.values():
            expiry = session.expiry(
                now, media_timeout=self.media_timeout, setup_timeout=self.setup_timeout
            )
            if expiry is not None:
                found.append((session, expiry))
        return found
