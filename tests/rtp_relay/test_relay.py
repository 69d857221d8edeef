"""The relay end to end: control over a real nats-server, RTP over real sockets on 127.0.0.1.

Each test starts a relay in-process (its control subscribed on the test server) and plays the
caller (peer A) and callee (peer B) with UDP sockets, and sip_core with a bus client.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket

import pytest

from libs.bus import Bus, Msg
from libs.bus.media import (
    AnswerMedia,
    Codec,
    DeleteMedia,
    MediaOffered,
    MediaRefused,
    MediaTimedOut,
    OfferMedia,
    PeerMedia,
    QueryMedia,
    RelayRefused,
    RelayStatus,
    RelayStatusRequested,
    media_timeout_subject,
    relay_subject,
    request_media,
)
from tests.rtp_relay.conftest import Peer, PeerFactory, RelayFactory, rtp


async def call(
    bus: Bus,
    node_id: str,
    call_id: str,
    a: Peer,
    b: Peer | None = None,
    *,
    a_port: int | None = None,
    owner: str | None = None,
) -> MediaOffered:
    """offer (peer A as its SDP says) and, with ``b``, answer; returns the offer's reply."""
    caller = PeerMedia(address=a.ip, port=a_port or a.port, codecs=(Codec(payload_type=0),))
    offered = await request_media(
        bus, node_id, OfferMedia(call_id=call_id, peer=caller, owner=owner)
    )
    if b is not None:
        callee = PeerMedia(address=b.ip, port=b.port)
        await request_media(bus, node_id, AnswerMedia(call_id=call_id, peer=callee))
    return offered


async def test_offer_answer_relay_both_ways_untouched_with_loss_and_jitter(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    relay = await start_relay()
    a, b = await open_peer(), await open_peer()
    offered = await call(bus, relay.node_id, "call-1", a, b)
    assert offered.a.address == "127.0.0.1"
    assert offered.a.rtcp_port == offered.a.rtp_port + 1
    assert offered.a.rtp_port % 2 == 0
    assert offered.b.rtp_port % 2 == 0
    assert offered.a.rtp_port != offered.b.rtp_port

    # A sends 20 packets in one burst, sequence numbers 5, 6 and 12 missing (lost on the way);
    # timestamps step 160 per packet sent. Payloads are random bytes, as SRTP's would be.
    sent = [
        rtp(seq, 160 * i, payload=os.urandom(160))
        for i, seq in enumerate(s for s in range(20) if s not in (5, 6, 12))
    ]
    for packet in sent:
        a.send(packet, offered.a.rtp_port)
    received = await b.recv_all(len(sent))
    assert received == sent  # byte for byte, in order
    # B answers towards the relay's b port; A hears it from the port it sends to.
    b.send(rtp(1, 160, ssrc=0xB), offered.b.rtp_port)
    data, source = await a.recv()
    assert data == rtp(1, 160, ssrc=0xB)
    assert source == ("127.0.0.1", offered.a.rtp_port)

    stats = (await request_media(bus, relay.node_id, QueryMedia(call_id="call-1"))).stats
    assert (stats.a.packets, stats.a.bytes, stats.a.lost) == (17, 17 * 172, 3)
    assert stats.a.loss_pct == pytest.approx(100 * 3 / 20)
    # Arrivals ~0 ms apart against timestamps 20 ms apart: D = 160 units for each of the 16
    # packets after the first, so J = 160 (1 - (15/16)^16) = 103.03 units = 12.88 ms at 8 kHz.
    assert stats.a.jitter_ms == pytest.approx(160 * (1 - (15 / 16) ** 16) / 8, abs=1.5)
    assert stats.a.mos is not None
    assert stats.a.mos < 4.0
    assert (stats.b.packets, stats.b.lost, stats.b.ssrc) == (1, 0, 0xB)
    assert stats.a.peer == f"127.0.0.1:{a.port}"
    assert stats.b.peer == f"127.0.0.1:{b.port}"
    assert stats.answered
    assert stats.mos == stats.a.mos


async def test_rtcp_is_relayed_between_the_rtcp_ports(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    relay = await start_relay()
    a, a_rtcp, b = await open_peer(), await open_peer(), await open_peer()
    caller = PeerMedia(address="127.0.0.1", port=a.port, rtcp_port=a_rtcp.port)
    offered = await request_media(bus, relay.node_id, OfferMedia(call_id="c", peer=caller))
    # the callee's SDP has no a=rtcp: its RTCP port is RTP + 1, where nobody listens; the
    # callee sends its RTCP from its RTP socket instead, and the latch follows it
    await request_media(
        bus,
        relay.node_id,
        AnswerMedia(call_id="c", peer=PeerMedia(address="127.0.0.1", port=b.port)),
    )
    report = b"\x81\xc9\x00\x07" + bytes(28)
    b.send(report, offered.b.rtcp_port)
    data, source = await a_rtcp.recv()
    assert (data, source) == (report, ("127.0.0.1", offered.a.rtcp_port))
    a_rtcp.send(report, offered.a.rtcp_port)
    assert (await b.recv())[0] == report
    stats = (await request_media(bus, relay.node_id, QueryMedia(call_id="c"))).stats
    assert (stats.a.rtcp_packets, stats.b.rtcp_packets, stats.b.packets) == (1, 1, 0)


async def test_nat_latching_sends_back_to_the_port_packets_come_from(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    relay = await start_relay()
    a, b = await open_peer(), await open_peer()
    sdp_port = 4000  # what the caller's SDP claims; its NAT maps it to a.port
    offered = await call(bus, relay.node_id, "nat", a, b, a_port=sdp_port)
    a.send(rtp(1, 160), offered.a.rtp_port)
    await b.recv()
    b.send(rtp(1, 160, ssrc=2), offered.b.rtp_port)
    assert (await a.recv())[0] == rtp(1, 160, ssrc=2)  # reached the NAT's port, not 4000
    stats = (await request_media(bus, relay.node_id, QueryMedia(call_id="nat"))).stats
    assert stats.a.peer == f"127.0.0.1:{a.port}"


async def test_strangers_are_dropped_and_counted(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    relay = await start_relay()
    a, b = await open_peer(), await open_peer()
    offered = await call(bus, relay.node_id, "strangers", a, b)
    elsewhere = await open_peer("127.0.0.2")  # another IP than the SDP's: never latches
    elsewhere.send(rtp(1, 160, ssrc=66), offered.a.rtp_port)
    assert await b.silent()
    a.send(rtp(1, 160), offered.a.rtp_port)  # the real caller latches
    assert (await b.recv())[0] == rtp(1, 160)
    same_ip = await open_peer()  # same IP, another port, while the caller talks
    for seq in range(5):
        same_ip.send(rtp(seq, 0, ssrc=67), offered.a.rtp_port)
    a.send(rtp(2, 320), offered.a.rtp_port)
    assert (await b.recv())[0] == rtp(2, 320)  # only the caller's packets get through
    assert await b.silent()
    stats = (await request_media(bus, relay.node_id, QueryMedia(call_id="strangers"))).stats
    assert (stats.a.dropped, stats.a.packets, stats.a.peer) == (6, 2, f"127.0.0.1:{a.port}")


async def test_a_silent_leg_produces_a_media_timeout_event_and_frees_its_ports(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    relay = await start_relay(timeout=0.6, sweep_interval=0.1)
    events: asyncio.Queue[MediaTimedOut] = asyncio.Queue()

    async def on_event(msg: Msg) -> None:
        events.put_nowait(MediaTimedOut.from_bytes(msg.data))

    await bus.subscribe(media_timeout_subject("sip-core-7"), on_event)
    await bus.nc.flush()
    a, b = await open_peer(), await open_peer()
    offered = await call(bus, relay.node_id, "quiet", a, b, owner="sip-core-7")
    assert relay.ports_in_use == 2
    for seq in range(8):  # A says something, B never does
        a.send(rtp(seq, 160 * seq), offered.a.rtp_port)
    event = await asyncio.wait_for(events.get(), 3.0)
    assert (event.call_id, event.reason, event.leg, event.owner) == (
        "quiet",
        "media_timeout",
        "b",
        "sip-core-7",
    )
    assert event.node_id == relay.node_id
    assert event.idle_s >= 0.6
    assert event.stats.a.packets == 8
    assert event.stats.b.packets == 0
    assert relay.ports_in_use == 0
    with pytest.raises(RelayRefused) as refused:
        await request_media(bus, relay.node_id, DeleteMedia(call_id="quiet"))
    assert refused.value.reason == "unknown_session"


async def test_port_exhaustion_is_a_clear_refusal_and_delete_frees_the_ports(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    relay = await start_relay(pairs=2)  # one call: two pairs
    a = await open_peer()
    first = await call(bus, relay.node_id, "one", a)
    with pytest.raises(RelayRefused) as refused:
        await call(bus, relay.node_id, "two", a)
    assert refused.value.reason == "no_ports"
    assert "in use" in refused.value.detail
    assert relay.ports_in_use == 2  # the failed offer kept nothing

    deleted = await request_media(bus, relay.node_id, DeleteMedia(call_id="one"))
    assert deleted.stats.a.packets == 0
    assert relay.ports_in_use == 0
    again = await call(bus, relay.node_id, "two", a)
    assert {again.a.rtp_port, again.b.rtp_port} == {first.a.rtp_port, first.b.rtp_port}
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # the deleted call's ports were really closed: they could be bound again
        await request_media(bus, relay.node_id, DeleteMedia(call_id="two"))
        await asyncio.sleep(0.05)
        probe.bind(("127.0.0.1", first.a.rtp_port))
    finally:
        probe.close()


async def test_a_port_held_by_another_process_is_skipped(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    relay = await start_relay(pairs=4)
    first_rtcp = relay.plane.pool.first + 1
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        squatter.bind(("127.0.0.1", first_rtcp))  # holds the RTCP port of the first pair
        offered = await call(bus, relay.node_id, "skip", await open_peer())
        used = {offered.a.rtp_port, offered.b.rtp_port}
        assert relay.plane.pool.first not in used
        assert len(used) == 2
        assert relay.ports_in_use == 2
    finally:
        squatter.close()


async def test_bad_requests_get_a_typed_refusal(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    relay = await start_relay()

    async def raw(command: str, payload: bytes) -> MediaRefused:
        reply = await bus.nc.request(relay_subject(relay.node_id, command), payload, timeout=2)
        return MediaRefused.from_bytes(reply.data)

    assert (await raw("offer", b"{not json")).reason == "bad_request"
    assert (await raw("offer", b'{"peer": {}}')).reason == "bad_request"  # no call id
    bad_ip = json.dumps({"call_id": "x", "peer": {"address": "not-an-ip", "port": 4000}})
    refusal = await raw("offer", bad_ip.encode())
    assert refusal.reason == "bad_request"
    assert "address" in refusal.detail
    assert (await raw("transfer", b"{}")).reason == "bad_request"
    v6 = OfferMedia(call_id="x", peer=PeerMedia(address="2001:db8::1", port=4000))
    assert (await raw("offer", v6.to_bytes())).reason == "bad_request"
    with pytest.raises(RelayRefused) as refused:
        await request_media(bus, relay.node_id, AnswerMedia(call_id="nobody"))
    assert refused.value.reason == "unknown_session"
    assert refused.value.refusal.call_id == "nobody"
    assert relay.ports_in_use == 0

    # unknown fields are ignored (a newer sip_core may send more)
    newer = json.dumps(
        {"call_id": "new", "peer": {"address": "127.0.0.1", "port": 4000, "ice": "x"}, "v": 2}
    )
    reply = await bus.nc.request(relay_subject(relay.node_id, "offer"), newer.encode(), timeout=2)
    assert MediaOffered.from_bytes(reply.data).call_id == "new"


async def test_reoffer_and_reanswer_keep_the_ports_and_follow_the_new_address(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    relay = await start_relay()
    a, b, b2 = await open_peer(), await open_peer(), await open_peer("127.0.0.3")
    first = await call(bus, relay.node_id, "re", a, b)
    again = await call(bus, relay.node_id, "re", a)
    assert (again.a, again.b) == (first.a, first.b)
    assert relay.ports_in_use == 2
    # the callee moves its media to another address (re-INVITE): B2 replaces B
    moved = PeerMedia(address=b2.ip, port=b2.port)
    await request_media(bus, relay.node_id, AnswerMedia(call_id="re", peer=moved))
    a.send(rtp(1, 160), first.a.rtp_port)
    assert (await b2.recv())[0] == rtp(1, 160)
    assert await b.silent(0.1)


async def test_a_draining_relay_refuses_new_calls_but_keeps_its_own(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    draining = False
    relay = await start_relay(draining=lambda: draining)
    a, b = await open_peer(), await open_peer()
    offered = await call(bus, relay.node_id, "kept", a, b)
    draining = True
    with pytest.raises(RelayRefused) as refused:
        await call(bus, relay.node_id, "new", a)
    assert refused.value.reason == "draining"
    await call(bus, relay.node_id, "kept", a, b)  # a re-INVITE of a call it carries
    a.send(rtp(1, 160), offered.a.rtp_port)
    assert (await b.recv())[0] == rtp(1, 160)
    status = await bus.request(
        relay_subject(relay.node_id, "status"), RelayStatusRequested(), RelayStatus
    )
    assert (status.draining, status.sessions, status.port_pairs_in_use) == (True, 1, 2)
    deleted = await request_media(bus, relay.node_id, DeleteMedia(call_id="kept"))
    assert deleted.stats.a.packets == 1


async def test_heartbeat_load_counts_ports_packets_and_cpu(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    relay = await start_relay(pairs=10)
    a, b = await open_peer(), await open_peer()
    offered = await call(bus, relay.node_id, "load", a, b)
    for seq in range(50):
        a.send(rtp(seq, 160 * seq), offered.a.rtp_port)
    await b.recv_all(50)
    await relay.sweep()
    load, figures = relay.load()
    assert load >= 0.2  # 2 of 10 pairs
    assert figures["port_pairs"] == 10
    assert figures["port_pairs_in_use"] == 2
    assert figures["sessions"] == 1
    assert figures["packets_per_second"] > 0
    assert figures["cpu"] >= 0


async def test_datagrams_that_are_not_rtp_are_relayed_untouched_and_counted(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    relay = await start_relay()
    a, b = await open_peer(), await open_peer()
    offered = await call(bus, relay.node_id, "odd", a, b)
    odd = [b"\x80", b"\x00" * 40, b"\x80\xc8" + bytes(26)]  # short, version 0, muxed RTCP
    for data in odd:
        a.send(data, offered.a.rtp_port)
    assert await b.recv_all(len(odd)) == odd
    stats = (await request_media(bus, relay.node_id, QueryMedia(call_id="odd"))).stats
    assert (stats.a.packets, stats.a.non_rtp, stats.a.lost) == (3, 3, 0)
    assert relay.plane.errors == 0


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
async def test_an_ipv6_relay_latches_and_relays(
    bus: Bus, start_relay: RelayFactory, open_peer: PeerFactory
) -> None:
    relay = await start_relay(host="::1")
    a, b = await open_peer("::1"), await open_peer("::1")
    offered = await call(bus, relay.node_id, "v6", a, b)
    assert offered.a.address == "::1"
    a.send(rtp(1, 160), offered.a.rtp_port, host="::1")
    assert (await b.recv())[0] == rtp(1, 160)
    b.send(rtp(1, 160, ssrc=9), offered.b.rtp_port, host="::1")
    assert (await a.recv())[0] == rtp(1, 160, ssrc=9)
    stats = (await request_media(bus, relay.node_id, QueryMedia(call_id="v6"))).stats
    assert stats.a.peer == f"[::1]:{a.port}"
