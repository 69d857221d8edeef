"""The sans-I/O core with a fake clock: ports, latching, RFC 3550 loss and jitter, MOS, time-outs.

Expected figures are worked out by hand in the comments (RFC 3550 A.1, A.3, A.8; ITU-T G.107).
"""

from __future__ import annotations

import ast
import math
import struct
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from libs.bus.media import MediaRefused
from services.rtp_relay.core import (
    MediaSession,
    MediaTable,
    PeerAddress,
    PortPool,
    Refusal,
    mos_from_r,
    r_factor,
)
from services.rtp_relay.core.ports import PortsExhausted
from services.rtp_relay.core.session import Refused, RtpEndpoint
from tests.rtp_relay.conftest import rtp

A = ("198.51.100.7", 4000)  # peer A as SDP announces it
B = ("203.0.113.9", 5000)


def session(now: float = 0.0, *, relatch_after: float = 3.0) -> MediaSession:
    s = MediaSession("call-1", 20000, 20002, now, owner="sip-1", relatch_after=relatch_after)
    s.offer(PeerAddress(A[0], A[1]))
    s.answer(PeerAddress(B[0], B[1]), now)
    return s


def feed(endpoint: RtpEndpoint, packets: list[tuple[float, bytes]]) -> None:
    for now, data in packets:
        endpoint.received(data, now)


# -- ports ----------------------------------------------------------------------------------


def test_port_pool_hands_out_even_rtp_ports_with_rtcp_above_inside_the_range() -> None:
    pool = PortPool(20001, 20008)  # odd start: the first pair is 20002/20003; 20008 has no +1
    assert pool.capacity == 3
    assert [pool.allocate() for _ in range(3)] == [20002, 20004, 20006]
    with pytest.raises(PortsExhausted, match="all 3 port pairs"):
        pool.allocate()


def test_released_pairs_are_reused_last_and_release_is_idempotent() -> None:
    pool = PortPool(20000, 20007)
    first = pool.allocate()
    pool.release(first)
    pool.release(first)
    assert pool.in_use == 0
    assert [pool.allocate() for _ in range(4)] == [20002, 20004, 20006, 20000]


def test_a_pair_set_aside_comes_back_after_every_other_free_pair() -> None:
    pool = PortPool(20000, 20005)
    busy = pool.allocate()
    pool.set_aside(busy)
    assert (pool.allocate(), pool.allocate(), pool.allocate()) == (20002, 20004, busy)


def test_a_range_without_a_pair_is_refused() -> None:
    with pytest.raises(ValueError, match="no RTP/RTCP pair"):
        PortPool(20001, 20002)


# -- latching -------------------------------------------------------------------------------


def test_the_first_packet_from_the_expected_ip_latches_whatever_its_port() -> None:
    s = session()
    ep = s.a.rtp
    assert ep.send_to == A  # before latching, the twin's packets go where SDP said
    nat = (A[0], 61234)  # a NAT rewrote the port
    assert ep.admit(nat, 1.0)
    assert ep.peer == nat
    assert ep.send_to == nat


def test_packets_from_another_ip_are_dropped_and_counted_before_and_after_latching() -> None:
    ep = session().a.rtp
    assert not ep.admit(("192.0.2.66", 4000), 1.0)
    assert ep.peer is None
    assert ep.admit((A[0], 4000), 1.1)
    ep.received(rtp(1, 160), 1.1)
    assert not ep.admit((A[0], 4002), 1.2)  # same IP, another port: a stranger once latched
    assert ep.dropped == 2
    assert ep.peer == (A[0], 4000)


def test_with_no_expected_address_the_first_source_latches() -> None:
    s = MediaSession("c", 20000, 20002, 0.0)
    s.offer(PeerAddress(None, None))
    assert s.a.rtp.send_to is None
    assert s.a.rtp.admit(("192.0.2.1", 7000), 0.5)
    assert s.a.rtp.send_to == ("192.0.2.1", 7000)


def test_the_latch_moves_only_after_relatch_after_seconds_of_silence_from_the_expected_ip() -> None:
    ep = session(relatch_after=3.0).a.rtp
    assert ep.admit((A[0], 4000), 10.0)
    ep.received(rtp(1, 160), 10.0)
    assert not ep.admit((A[0], 4444), 12.9)  # 2.9 s of silence: too early
    assert not ep.admit(("192.0.2.66", 4444), 13.0)  # silent long enough, but another IP
    assert ep.admit((A[0], 4444), 13.0)  # 3 s: the NAT rebound, follow it
    assert (ep.peer, ep.relatched, ep.dropped) == ((A[0], 4444), 1, 2)


def test_rtcp_keeps_its_latch_across_normal_report_intervals() -> None:
    ep = session(relatch_after=3.0).a.rtcp
    assert ep.admit((A[0], 4001), 0.0)
    ep.received(b"\x81\xc9\x00\x01" + bytes(4), 0.0)
    assert not ep.admit((A[0], 5555), 10.0)  # 10 s between reports is normal for RTCP
    assert ep.admit((A[0], 5555), 15.0)


def test_a_reoffer_to_another_ip_releases_the_latch_and_hold_keeps_the_expected_ip() -> None:
    s = session()
    assert s.a.rtp.admit((A[0], 4000), 1.0)
    s.offer(PeerAddress(None, None))  # hold (c=0.0.0.0): keep who may send, send nowhere new
    assert s.a.rtp.peer == (A[0], 4000)
    assert not s.a.rtp.admit(("192.0.2.66", 1), 100.0)
    s.offer(PeerAddress("192.0.2.44", 6000))  # the caller moved its media
    assert s.a.rtp.peer is None
    assert s.a.rtp.send_to == ("192.0.2.44", 6000)
    assert s.a.rtcp.send_to == ("192.0.2.44", 6001)


def test_twins_cross_the_legs() -> None:
    s = session()
    assert s.a.rtp.twin is s.b.rtp
    assert s.b.rtp.twin is s.a.rtp
    assert s.a.rtcp.twin is s.b.rtcp
    assert s.b.rtcp.twin is s.a.rtcp
    assert (s.a.rtcp.port, s.b.rtcp.port) == (20001, 20003)


# -- loss (RFC 3550 A.1, A.3) ---------------------------------------------------------------


def test_sequence_gaps_count_as_loss() -> None:
    ep = session().a.rtp
    sent = [seq for seq in range(20) if seq not in (5, 6, 12)]
    feed(ep, [(0.02 * seq, rtp(seq, 160 * seq)) for seq in sent])
    # expected = 19 - 0 + 1 = 20, received 17
    assert (ep.packets, ep.expected, ep.lost) == (17, 20, 3)


def test_loss_across_the_16_bit_sequence_wrap() -> None:
    ep = session().a.rtp
    seqs = [*range(65530, 65536), *(s for s in range(10) if s not in (0, 3))]
    feed(ep, [(0.02 * i, rtp(seq, 160 * i)) for i, seq in enumerate(seqs)])
    # extended max = 65536 + 9; expected = 65545 - 65530 + 1 = 16; received 14
    assert (ep.cycles, ep.expected, ep.lost) == (65536, 16, 2)


def test_late_packets_fill_their_gap_and_duplicates_never_make_loss_negative() -> None:
    ep = session().a.rtp
    feed(ep, [(0.0, rtp(0, 0)), (0.02, rtp(1, 160)), (0.04, rtp(3, 480))])
    assert ep.lost == 1
    feed(ep, [(0.05, rtp(2, 320))])  # 2 arrives late: A.1 counts it, the gap closes
    assert ep.lost == 0
    feed(ep, [(0.06, rtp(3, 480)), (0.07, rtp(3, 480))])  # duplicates
    assert ep.lost == 0
    assert ep.packets == 6


def test_a_sequence_restart_is_believed_on_the_second_packet_and_keeps_earlier_loss() -> None:
    ep = session().a.rtp
    feed(ep, [(0.02 * s, rtp(s, 160 * s)) for s in range(10) if s != 4])  # lost 1
    feed(ep, [(1.0, rtp(30000, 99999))])  # a jump of 30,000: not believed yet
    assert ep.lost == 1
    feed(ep, [(1.02, rtp(30001, 100159)), (1.04, rtp(30002, 100319))])
    # epoch 1: expected 10, received 9; epoch 2 starts at 30001: expected 2, received 2
    assert (ep.expected, ep.lost) == (12, 1)


def test_a_new_ssrc_starts_a_new_sequence_and_keeps_the_counts() -> None:
    ep = session().a.rtp
    feed(ep, [(0.02 * s, rtp(s, 160 * s, ssrc=1)) for s in range(5) if s != 2])  # lost 1
    feed(ep, [(1 + 0.02 * s, rtp(s, 160 * s, ssrc=2)) for s in range(9000, 9006) if s != 9003])
    assert (ep.ssrc, ep.expected, ep.lost, ep.packets) == (2, 11, 2, 9)


def test_packets_that_are_not_rtp_are_relayed_and_counted_apart() -> None:
    ep = session().a.rtp
    for now, data in enumerate([b"\x80\x00", b"\x40" + bytes(20), b"\x80\xc8" + bytes(26)]):
        ep.received(data, float(now))  # too short, version 1, RTCP SR multiplexed (5761 §4)
    assert (ep.packets, ep.non_rtp, ep.expected, ep.lost) == (3, 3, 0, 0)


# -- jitter (RFC 3550 A.8) ------------------------------------------------------------------


def test_steady_20ms_packets_have_no_jitter() -> None:
    ep = session().a.rtp
    feed(ep, [(0.02 * i, rtp(i, 160 * i)) for i in range(50)])
    assert ep.jitter == pytest.approx(0.0, abs=1e-6)


def test_jitter_from_alternating_10_and_30_ms_arrivals() -> None:
    # Timestamps step 160 (20 ms at 8 kHz) but arrivals alternate 10 ms / 30 ms apart:
    # D = |80 - 160| = |240 - 160| = 80 units for every packet after the first, so
    # J1 = 80/16 = 5, J2 = 5 + (80 - 5)/16 = 9.6875, and Jn = 80 (1 - (15/16)^n).
    ep = session().a.rtp
    arrivals = [0.0]
    for i in range(1, 51):
        arrivals.append(arrivals[-1] + (0.010 if i % 2 else 0.030))
    feed(ep, [(arrivals[0], rtp(0, 0)), (arrivals[1], rtp(1, 160))])
    assert ep.jitter == pytest.approx(5.0)
    feed(ep, [(arrivals[2], rtp(2, 320))])
    assert ep.jitter == pytest.approx(9.6875)
    feed(ep, [(arrivals[i], rtp(i, 160 * i)) for i in range(3, 51)])
    assert ep.jitter == pytest.approx(80 * (1 - (15 / 16) ** 50))  # 76.83 units
    assert ep.jitter_ms == pytest.approx(ep.jitter / 8)  # 8 units per ms at 8 kHz


def test_jitter_ignores_the_32_bit_timestamp_wrap() -> None:
    ep = session().a.rtp
    start = 2**32 - 480
    feed(ep, [(0.02 * i, rtp(i, start + 160 * i)) for i in range(10)])  # wraps at i = 3
    assert ep.jitter == pytest.approx(0.0, abs=1e-6)


def test_jitter_uses_the_clock_rate_of_a_dynamic_payload_type() -> None:
    s = MediaSession("c", 20000, 20002, 0.0)
    s.offer(PeerAddress(A[0], A[1], codecs={96: ("L16", 16000)}))
    ep = s.a.rtp
    # 20 ms at 16 kHz = 320 units; arrivals 20 ms apart: no jitter. Read at 8 kHz it would
    # look like 160 units of jitter per packet.
    feed(ep, [(0.02 * i, rtp(i, 320 * i, pt=96)) for i in range(20)])
    assert ep.clock_rate == 16000
    assert ep.jitter == pytest.approx(0.0, abs=1e-6)


def test_rfc4733_events_do_not_inflate_the_voice_jitter() -> None:
    s = MediaSession("c", 20000, 20002, 0.0)
    s.offer(PeerAddress(A[0], A[1], codecs={101: ("telephone-event", 8000)}))
    ep = s.a.rtp
    feed(ep, [(0.02 * i, rtp(i, 160 * i)) for i in range(10)])
    # a DTMF digit: every packet of the event carries the event's start timestamp
    feed(ep, [(0.02 * i, rtp(i, 1600, pt=101)) for i in range(10, 15)])
    feed(ep, [(0.02 * i, rtp(i, 160 * i)) for i in range(15, 20)])
    assert ep.jitter == pytest.approx(0.0, abs=1e-6)
    assert (ep.audio_pt, ep.codec, ep.lost) == (0, "PCMU", 0)


# -- MOS (ITU-T G.107, see services/rtp_relay/core/quality.py) ------------------------------


def test_r_factor_and_mos_by_hand() -> None:
    # no impairment: d = 10 ms, Id = 0.24, R = 93.2 - 0.24 = 92.96
    assert r_factor(0, 0, 0) == pytest.approx(92.96)
    # MOS = 1 + 0.035 R + 7e-6 R (R - 60)(100 - R) = 1 + 3.2536 + 0.1510
    assert mos_from_r(92.96) == pytest.approx(4.4046, abs=1e-4)
    # 1 % loss, G.711 (Bpl 25.1): Ie,eff = 95 x 1 / 26.1 = 3.6398
    assert r_factor(0, 0, 1.0) == pytest.approx(92.96 - 3.6398, abs=1e-4)
    # 200 ms: d = 210, Id = 0.024 x 210 + 0.11 x (210 - 177.3) = 8.637
    assert r_factor(200, 0, 0) == pytest.approx(93.2 - 8.637)
    # 20 ms jitter counts twice (jitter buffer): d = 50, Id = 1.2
    assert r_factor(0, 20, 0) == pytest.approx(92.0)
    # G.729A: Ie = 11
    assert r_factor(0, 0, 0, ie=11, bpl=19) == pytest.approx(81.96)
    assert (mos_from_r(0), mos_from_r(50), mos_from_r(100)) == (1.0, 2.575, 4.5)
    assert r_factor(1000, 500, 100) == 0.0


def test_the_report_carries_loss_jitter_and_a_mos_per_direction() -> None:
    s = session()
    s.a.rtp.admit(A, 0.0)
    feed(s.a.rtp, [(0.02 * i, rtp(i, 160 * i)) for i in range(100) if i % 10 != 5])  # 10 %
    report = s.report(2.5)
    a = report.a
    assert (a.packets, a.lost, a.loss_pct, a.peer) == (90, 10, 10.0, "198.51.100.7:4000")
    # R = 92.96 - 95 x 10 / 35.1 = 65.894; MOS = 1 + 2.3063 + 7e-6 x 65.894 x 5.894 x 34.106
    #   = 1 + 2.3063 + 0.0927 = 3.399
    assert (a.r_factor, a.mos) == (65.9, 3.4)
    assert (a.codec, a.payload_type, a.clock_rate, a.idle_s) == ("PCMU", 0, 8000, 0.52)
    assert report.b.mos is None  # nothing from B yet
    assert (report.mos, report.duration_s, report.answered) == (3.4, 2.5, True)


# -- RTCP round trip (RFC 3550 §6.4.1) ------------------------------------------------------


def sender_report(ssrc: int, ntp_seconds: int, ntp_fraction: int) -> bytes:
    # V=2 RC=0 PT=200 length=6 (28 bytes): SSRC, NTP 64 bits, RTP ts, packet and octet counts
    return struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, ntp_seconds, ntp_fraction, 0, 0, 0)


def receiver_report(ssrc: int, lsr: int, dlsr: int) -> bytes:
    # V=2 RC=1 PT=201 length=7 (32 bytes): SSRC, one report block of 24 bytes
    return struct.pack("!BBHIIIIIII", 0x81, 201, 7, ssrc, 0x1234, 0, 0, 0, lsr, dlsr)


def test_round_trip_time_from_a_forwarded_sender_report_and_the_answering_receiver_report() -> None:
    s = session()
    # A's SR crosses the relay at t = 10.000: NTP 0x0001_0002 . 0x0003_0004 -> middle 0x00020003
    s.a.rtcp.received(sender_report(0xA, 0x00010002, 0x00030004), 10.0)
    # B answers at t = 10.350 having held the SR 0.25 s (DLSR in 1/65536 s)
    s.b.rtcp.received(receiver_report(0xB, 0x00020003, int(0.25 * 65536)), 10.35)
    assert s.b.rtcp.rtt == pytest.approx(0.1)
    assert s.report(11.0).b.rtt_ms == 100.0


def test_malformed_rtcp_is_counted_not_raised() -> None:
    ep = session().a.rtcp
    ep.received(b"\x81\xc9\x00\xff" + bytes(8), 1.0)  # length says 1,024 bytes
    ep.received(b"\x81\xc9\x00\x01" + bytes(4), 1.0)  # RR claiming a block it lacks
    assert (ep.packets, ep.malformed) == (2, 2)


def test_srtcp_is_counted_without_reading_its_encrypted_body() -> None:
    s = MediaSession("c", 20000, 20002, 0.0)
    s.offer(PeerAddress(A[0], A[1], secure=True))
    s.a.rtcp.received(b"\x81\xc9\x00\x01" + bytes(4), 1.0)
    assert (s.a.rtcp.packets, s.a.rtcp.malformed) == (1, 0)


@given(st.binary(max_size=300))
def test_any_datagram_is_accepted_by_the_endpoints(data: bytes) -> None:
    s = session()
    s.a.rtp.received(data, 1.0)
    s.a.rtcp.received(data, 1.0)
    s.a.rtp.received(data, 2.0)
    assert s.a.rtp.packets == 2
    assert s.a.rtcp.packets == 1
    s.report(3.0)


@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1)), max_size=60))
@example([(0, 4294967137), (0, 0)])  # a wrap plus 20 ms: |D| above 2^32 made jitter negative
def test_any_sequence_of_rtp_headers_gives_sane_figures(headers: list[tuple[int, int]]) -> None:
    ep = session().a.rtp
    for i, (seq, ts) in enumerate(headers):
        ep.received(rtp(seq, ts), 0.02 * i)
    assert ep.lost >= 0
    assert ep.jitter >= 0
    assert math.isfinite(ep.jitter)


# -- time-outs ------------------------------------------------------------------------------


def test_a_silent_leg_times_out_after_the_answer() -> None:
    s = MediaSession("c", 20000, 20002, 0.0)
    s.offer(PeerAddress(*A))
    assert s.expiry(100.0, media_timeout=30, setup_timeout=600) is None  # still ringing
    s.answer(PeerAddress(*B), 100.0)
    s.a.rtp.received(rtp(1, 160), 125.0)
    s.b.rtp.received(rtp(1, 160), 101.0)
    assert s.expiry(130.0, media_timeout=30, setup_timeout=600) is None
    expiry = s.expiry(131.0, media_timeout=30, setup_timeout=600)
    assert expiry is not None
    assert (expiry.reason, expiry.leg, expiry.idle_s) == ("media_timeout", "b", 30.0)


def test_rtcp_keeps_a_leg_alive_on_hold() -> None:
    s = session(0.0)
    s.a.rtcp.received(b"\x81\xc9\x00\x01" + bytes(4), 25.0)
    s.b.rtcp.received(b"\x81\xc9\x00\x01" + bytes(4), 25.0)
    assert s.expiry(50.0, media_timeout=30, setup_timeout=600) is None


def test_an_unanswered_offer_is_an_orphan_after_the_setup_timeout() -> None:
    table = MediaTable(media_timeout=30, setup_timeout=600, relatch_after=3)
    s = MediaSession("c", 20000, 20002, 0.0)
    table.add(s)
    assert table.expired(599.0) == []
    [(found, expiry)] = table.expired(600.0)
    assert found is s
    assert (expiry.reason, expiry.leg) == ("setup_timeout", None)


def test_the_table_counts_packets_of_removed_sessions() -> None:
    table = MediaTable(media_timeout=30, setup_timeout=600, relatch_after=3)
    s = session()
    table.add(s)
    s.a.rtp.received(rtp(1, 160), 1.0)
    s.b.rtcp.received(b"\x81\xc9\x00\x01" + bytes(4), 1.0)
    table.remove("call-1")
    assert table.packets() == 2
    with pytest.raises(Refused, match="no media session") as refused:
        table.get("call-1")
    assert refused.value.reason is Refusal.UNKNOWN_SESSION


# -- structure ------------------------------------------------------------------------------


def test_every_refusal_reason_is_documented_on_the_wire_message() -> None:
    doc = MediaRefused.__doc__ or ""
    assert all(f"``{reason.value}``" in doc for reason in Refusal)


def test_the_core_touches_no_io() -> None:
    core = Path(__file__).resolve().parents[2] / "services" / "rtp_relay" / "core"
    forbidden = {"asyncio", "socket", "nats", "time", "libs.bus", "services.rtp_relay.udp"}
    for path in core.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in forbidden), (
                    f"{path.name} imports {name}"
                )
