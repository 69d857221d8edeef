"""sip_core anchoring media on rtp_relays: real relays, a real nats-server, real sipp peers.

Relays run in-process (``RelayControl`` on their own bus connection) and heartbeat into the
presence bucket like a relay node does; sip_core is the B2BUA with a ``MediaController``.
"""

from __future__ import annotations

import asyncio
import struct
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from libs.bus import (
    AssetSettings,
    Bus,
    BusConnector,
    NodeHeartbeat,
    PresencePublisher,
    presence_key,
    provision,
)
from libs.bus.cdr import CallEnded, ReleasedBy, ReleaseReason
from libs.bus.media import OfferMedia, PeerMedia, request_media
from libs.config import NatsSettings
from libs.platform.natsd import NatsServer, free_port
from services.rtp_relay.config import MediaSettings, RtpRelaySettings
from services.rtp_relay.control import RelayControl
from services.sip_core.b2bua.calls import B2BUA, Phase
from services.sip_core.b2bua.policy import Admission, MediaPlan, Refusal, Target
from services.sip_core.config import SipSettings
from services.sip_core.media import MediaController, MediaUnavailable, Offer, RelayDirectory
from services.sip_core.sip import Peer, Request, TransactionLayer
from services.sip_core.sip.sdp import SdpError
from services.sip_core.stack import SipStack
from services.sip_core.transport import SipListeners
from tests.rtp_relay.conftest import port_range
from tests.sip_core.sipp import scenario, start_sipp

pytestmark = pytest.mark.slow

ZONE = "test-zone"


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A server of its own: the presence bucket is provisioned per test."""
    with NatsServer(store_dir=tmp_path / "jetstream", port=0) as server:
        yield server


@pytest.fixture
async def bus(nats: NatsServer) -> AsyncIterator[Bus]:
    bus = await Bus.connect(nats.url, name="tests-media", request_timeout=2.0)
    try:
        await provision(bus.js, AssetSettings(presence_ttl=30))
        yield bus
    finally:
        await bus.close()


@dataclass
class Relay:
    control: RelayControl
    bus: Bus
    presence: PresencePublisher
    zone: str
    draining: bool = False

    @property
    def node_id(self) -> str:
        return self.control.node_id

    async def crash(self) -> None:
        """Stop dead: no withdrawal, the heartbeat just stops coming."""
        await self.presence.stop(withdraw=False)
        await self.control.stop()


@pytest.fixture
async def relays(nats: NatsServer, bus: Bus) -> AsyncIterator[Any]:
    """``await relays(zone, pairs=8, **media_settings)`` starts a heartbeating relay."""
    started: list[Relay] = []

    async def start(zone: str = ZONE, *, pairs: int = 8, **media: Any) -> Relay:
        port_min, port_max = port_range(pairs)
        settings = RtpRelaySettings(
            node_id=f"relay-{uuid.uuid4().hex[:8]}",
            zone=zone,
            nats=NatsSettings(servers=[nats.url]),
            media=MediaSettings(host="127.0.0.1", port_min=port_min, port_max=port_max, **media),
        )
        relay_bus = await Bus.connect(nats.url, name=settings.node_id)
        box: list[Relay] = []
        control = RelayControl(settings, draining=lambda: bool(box) and box[0].draining)
        await control.start(relay_bus)
        begun = datetime.now(UTC)

        def heartbeat() -> NodeHeartbeat:
            load, capacity = control.load()
            return NodeHeartbeat(
                node_id=settings.node_id,
                role="rtp_relay",
                zone=zone,
                version="test",
                started_at=begun,
                sent_at=datetime.now(UTC),
                load=min(1.0, load),
                capacity=capacity,
                draining=bool(box) and box[0].draining,
                addresses={"media": "127.0.0.1"},
            )

        presence = PresencePublisher(
            relay_bus, presence_key("rtp_relay", settings.node_id), heartbeat, interval=0.3
        )
        relay = Relay(control, relay_bus, presence, zone)
        box.append(relay)
        presence.start()
        started.append(relay)
        return relay

    try:
        yield start
    finally:
        for relay in started:
            await relay.presence.stop()
            await relay.control.stop()
            await relay.bus.close()


@asynccontextmanager
async def media_plane(
    nats: NatsServer, *, ttl: float = 10.0, offer_timeout: float = 1.0
) -> AsyncIterator[MediaController]:
    connector = BusConnector(nats.url, name="sip-core-test")
    connector.start()
    controller = MediaController(
        connector,
        RelayDirectory(connector, ttl=ttl),
        node_id="sip-test",
        offer_timeout=offer_timeout,
    )
    controller.start()
    try:
        await connector.wait_connected(10)
        yield controller
    finally:
        await controller.stop()
        await connector.close()


async def until(predicate: Any, within: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def sees(controller: MediaController, *relays: Relay) -> None:
    wanted = {relay.node_id for relay in relays}
    await until(lambda: wanted <= {r.node_id for r in controller.directory.relays()})


def offer_for(port: int) -> Offer:
    body = (
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        b"m=audio %d RTP/AVP 0\r\n" % port
    )
    offer = MediaController.read_offer(body, "127.0.0.1")
    assert offer is not None
    return offer


# -- relay selection ---------------------------------------------------------------------------


async def test_calls_go_to_the_least_loaded_relay_of_their_zone(
    nats: NatsServer, bus: Bus, relays: Any
) -> None:
    busy, idle = await relays(pairs=8), await relays(pairs=8)
    elsewhere = await relays("other-zone", pairs=8)
    for n in range(2):  # busy: 2 calls = 4 of its 8 port pairs, 50 %
        await request_media(
            bus, busy.node_id, OfferMedia(call_id=f"pre-{n}", peer=PeerMedia()), timeout=5
        )
    async with media_plane(nats) as media:
        await sees(media, busy, idle, elsewhere)
        await until(lambda: any(r.heartbeat.load >= 0.5 for r in media.directory.relays(ZONE)))

        chosen = []
        for n in range(4):
            session = await media.open(f"call-{n}", offer_for(4000 + 2 * n), ZONE, a_host=None)
            chosen.append(session.relay)
        # The idle relay takes calls until it is as loaded as the busy one; then they share.
        assert chosen[:2] == [idle.node_id, idle.node_id]
        assert sorted(chosen[2:]) == sorted([idle.node_id, busy.node_id])
        assert len(busy.control.plane.table) == len(idle.control.plane.table) == 3
        assert len(elsewhere.control.plane.table) == 0

        other = await media.open("call-x", offer_for(5000), "other-zone", a_host=None)
        assert other.relay == elsewhere.node_id
        with pytest.raises(MediaUnavailable, match="no live relay in zone 'nowhere'"):
            await media.open("call-y", offer_for(5002), "nowhere", a_host=None)

        # A draining relay takes no new calls; a full one neither.
        idle.draining = True
        await until(
            lambda: all(
                r.heartbeat.draining
                for r in media.directory.relays(ZONE)
                if r.node_id == idle.node_id
            )
        )
        for n in range(2):  # busy has 6 of 8 pairs in use: room for one call more
            if n == 0:
                session = await media.open(f"late-{n}", offer_for(6000), ZONE, a_host=None)
                assert session.relay == busy.node_id
            else:
                with pytest.raises(MediaUnavailable):
                    await media.open(f"late-{n}", offer_for(6002), ZONE, a_host=None)


async def test_a_relay_whose_heartbeat_stops_gets_no_calls_and_is_reported_lost(
    nats: NatsServer, bus: Bus, relays: Any
) -> None:
    doomed, survivor = await relays(), await relays()
    lost: list[str] = []
    async with media_plane(nats, ttl=2.0) as media:
        await sees(media, doomed, survivor)
        media.directory.on_lost = lost.append
        await doomed.crash()
        await until(lambda: lost == [doomed.node_id], within=10)
        for n in range(3):
            session = await media.open(f"c{n}", offer_for(7000 + 2 * n), ZONE, a_host=None)
            assert session.relay == survivor.node_id


async def test_sdp_is_rewritten_at_once_and_updates_reach_the_relay_in_order(
    nats: NatsServer, relays: Any
) -> None:
    relay = await relays()
    async with media_plane(nats) as media:
        await sees(media, relay)
        offer = offer_for(4000)
        session = await media.open("upd", offer, ZONE, a_host="127.0.0.1")
        towards_b = session.towards_b(offer.body)
        assert b"m=audio %d RTP/AVP 0" % session.b.rtp_port in towards_b
        assert b"c=IN IP4 127.0.0.1" in towards_b

        answer = offer.body.replace(b"4000", b"5000")
        towards_a = session.from_b(answer)  # a 183
        assert b"m=audio %d RTP/AVP 0" % session.a.rtp_port in towards_a
        final = session.from_b(offer.body.replace(b"4000", b"5002"))  # then the 200
        reinvite = session.from_a(offer.body.replace(b"4000", b"4100"))  # a re-INVITE from A
        assert b"m=audio %d RTP/AVP 0" % session.b.rtp_port in reinvite
        assert b"m=audio %d RTP/AVP 0" % session.a.rtp_port in final

        relayed = relay.control.plane.table.get("upd")
        await until(
            lambda: (
                relayed.b.rtp.target == ("127.0.0.1", 5002)
                and relayed.a.rtp.target == ("127.0.0.1", 4100)
            )
        )
        assert relayed.answered_at is not None
        stats = await session.close()
        assert stats is not None
        assert "upd" not in relay.control.plane.table
        assert await session.close() is stats  # closing twice asks the relay once


async def test_a_late_offer_takes_ports_first_and_its_stream_from_the_carriers_offer(
    nats: NatsServer, relays: Any
) -> None:
    relay = await relays()
    async with media_plane(nats) as media:
        await sees(media, relay)
        session = await media.open("late", MediaController.late_offer(), ZONE, a_host="127.0.0.1")
        relayed = relay.control.plane.table.get("late")
        assert relayed.a.rtp.expected_ip is None  # leg a latches on whoever sends first
        assert session.stream is None

        def sdp(*streams: bytes) -> bytes:
            head = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            return head + b"".join(streams)

        video = b"m=video 7000 RTP/AVP 96\r\n"
        # A 183 from a first carrier, then a failover carrier's 200 orders its streams otherwise.
        early = session.from_b(sdp(b"m=audio 5000 RTP/AVP 0\r\n", video))
        assert b"m=audio %d RTP/AVP 0" % session.a.rtp_port in early
        offer = session.from_b(sdp(video, b"m=audio 5002 RTP/AVP 0\r\n"))
        assert session.stream == 1
        assert b"m=video 0 RTP/AVP 96" in offer
        assert b"m=audio %d RTP/AVP 0" % session.a.rtp_port in offer
        # The caller's answer (in its ACK) follows the offer's order and settles the stream.
        answer = session.from_a(sdp(b"m=video 0 RTP/AVP 96\r\n", b"m=audio 4000 RTP/AVP 0\r\n"))
        assert b"m=audio %d RTP/AVP 0" % session.b.rtp_port in answer
        assert not session.late
        with pytest.raises(SdpError):  # an SDP without the anchored stream: relayed as it came
            session.from_b(sdp(video))
        await until(
            lambda: (
                relayed.b.rtp.target == ("127.0.0.1", 5002)
                and relayed.a.rtp.target == ("127.0.0.1", 4000)
            )
        )
        assert relayed.a.rtp.expected_ip == "127.0.0.1"
        assert await session.close() is not None


# -- calls -------------------------------------------------------------------------------------


class MediaTargets:
    """A test policy: every call to these carrier ports, with this media plan."""

    def __init__(self, *ports: int, media: MediaPlan) -> None:
        self.targets = [
            Target(Peer("UDP", "127.0.0.1", port), f"sip:service@127.0.0.1:{port}")
            for port in ports
        ]
        self.media = media
        self.released = 0

    def admit(self, request: Request, source: Peer) -> Admission | Refusal:
        return Admission(
            targets=list(self.targets), caller="sipp", callee="service", media=self.media
        )

    def release(self, admission: Admission) -> None:
        self.released += 1


@asynccontextmanager
async def sip_node(
    policy: MediaTargets, media: MediaController
) -> AsyncIterator[tuple[B2BUA, int, list[CallEnded]]]:
    stack = SipStack(TransactionLayer())
    port = free_port()
    listeners = SipListeners(
        stack.received, SipSettings(host="127.0.0.1", udp_port=port, tcp_port=0, tls_port=0)
    )
    stack.sender = listeners
    await listeners.start()
    cdrs: list[CallEnded] = []
    b2bua = B2BUA(
        stack,
        policy,
        local_host="127.0.0.1",
        local_port=port,
        node_id="sip-test",
        zone=ZONE,
        cdr_sink=cdrs.append,
        media=media,
    )
    try:
        yield b2bua, port, cdrs
    finally:
        await listeners.stop()
        stack.close()


def g711_pcap(path: Path, packets: int = 50) -> Path:
    """A pcap of ``packets`` RTP packets (PCMU, 20 ms, 172 bytes) for sipp's play_pcap_audio."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # Ethernet
    for seq in range(packets):
        rtp = struct.pack("!BBHII", 0x80, 0, seq, 160 * seq, 0x5EED) + b"\xff" * 160
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq, 0, 64, 17, 0,
            bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]),
        ) + udp  # fmt: skip
        frame = b"\x00\x11\x22\x33\x44\x55" + b"\x66\x77\x88\x99\xaa\xbb" + b"\x08\x00" + ip
        micros = seq * 20_000
        out.append(
            struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame))
        )
        out.append(frame)
    path.write_bytes(b"".join(out))
    return path


async def test_an_rtp_call_flows_through_the_relay_and_its_stats_reach_the_cdr(
    tmp_path: Path, nats: NatsServer, relays: Any
) -> None:
    relay = await relays()
    carrier = free_port()
    policy = MediaTargets(carrier, media=MediaPlan(mode="relay", strict=True))
    pcap = g711_pcap(tmp_path / "g711.pcap")
    async with media_plane(nats) as media, sip_node(policy, media) as (b2bua, port, cdrs):
        await sees(media, relay)
        uas = await start_sipp(
            "-sn", "uas", "-rtp_echo", "-mp", str(free_port()), "-m", "1",
            port=carrier, cwd=tmp_path,
        )  # fmt: skip
        uac = await start_sipp(
            "-sf", str(scenario("uac_rtp", tmp_path, pcap=pcap, pause=2500)),
            f"127.0.0.1:{port}", "-mp", str(free_port()), "-m", "1",
            port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        uac_rc, uac_out = await uac.finish()
        uas_rc, uas_out = await uas.finish()
        assert uac_rc == 0, uac_out
        assert uas_rc == 0, uas_out
        await until(lambda: len(cdrs) == 1)

    (cdr,) = cdrs
    assert cdr.release_reason is ReleaseReason.NORMAL
    assert cdr.media_caller is not None
    assert cdr.media_callee is not None
    # Every packet the caller played crossed the relay, and the carrier's echo came back.
    assert cdr.media_caller.packets == 50
    assert cdr.media_caller.bytes == 50 * 172
    assert cdr.media_caller.lost == 0
    assert cdr.media_caller.mos is not None
    assert cdr.media_caller.mos > 4
    assert 45 <= cdr.media_callee.packets <= 50
    assert len(relay.control.plane.table) == 0  # deleted
    assert not b2bua.calls
    assert policy.released == 1


async def test_an_rtp_timeout_ends_the_call(tmp_path: Path, nats: NatsServer, relays: Any) -> None:
    relay = await relays(timeout=1.5, sweep_interval=0.2)
    carrier = free_port()
    policy = MediaTargets(carrier, media=MediaPlan(mode="relay"))
    async with media_plane(nats) as media, sip_node(policy, media) as (_, port, cdrs):
        await sees(media, relay)
        uas = await start_sipp("-sn", "uas", "-m", "1", port=carrier, cwd=tmp_path)
        uac = await start_sipp(
            "-sf", str(scenario("uac_sdp_until_bye", tmp_path)), f"127.0.0.1:{port}",
            "-m", "1", port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, uas):
            rc, out = await peer.finish()
            assert rc == 0, out  # both got the switch's BYE
        await until(lambda: len(cdrs) == 1)

    (cdr,) = cdrs
    assert cdr.release_reason is ReleaseReason.RTP_TIMEOUT
    assert cdr.released_by is ReleasedBy.SWITCH
    assert cdr.answered_at is not None
    assert cdr.media_caller is not None
    assert cdr.media_caller.packets == 0


async def test_calls_on_a_vanished_relay_end_with_media_unavailable(
    tmp_path: Path, nats: NatsServer, relays: Any
) -> None:
    relay = await relays()
    carrier = free_port()
    policy = MediaTargets(carrier, media=MediaPlan(mode="relay"))
    async with media_plane(nats, ttl=2.0) as media, sip_node(policy, media) as (b2bua, port, cdrs):
        await sees(media, relay)
        uas = await start_sipp("-sn", "uas", "-m", "1", port=carrier, cwd=tmp_path)
        uac = await start_sipp(
            "-sf", str(scenario("uac_sdp_until_bye", tmp_path)), f"127.0.0.1:{port}",
            "-m", "1", port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        await until(lambda: any(c.phase is Phase.ANSWERED for c in b2bua.calls))
        await relay.crash()
        for peer in (uac, uas):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(cdrs) == 1)

    (cdr,) = cdrs
    assert cdr.release_reason is ReleaseReason.MEDIA_UNAVAILABLE
    assert cdr.released_by is ReleasedBy.SWITCH
    assert cdr.answered_at is not None


async def test_with_no_relay_a_strict_call_is_refused_and_a_relaxed_one_goes_direct(
    tmp_path: Path, nats: NatsServer, bus: Bus
) -> None:
    carrier = free_port()
    strict = MediaTargets(carrier, media=MediaPlan(mode="relay", zone="nowhere", strict=True))
    async with media_plane(nats) as media, sip_node(strict, media) as (_, port, cdrs):
        uac = await start_sipp(
            "-sf", str(scenario("uac_sdp_expect_failure", tmp_path, code=503)),
            f"127.0.0.1:{port}", "-m", "1", port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        rc, out = await uac.finish()
        assert rc == 0, out
        await until(lambda: len(cdrs) == 1)
        (cdr,) = cdrs
        assert cdr.release_reason is ReleaseReason.MEDIA_UNAVAILABLE
        assert cdr.sip_code == 503
        assert cdr.attempts == []  # no carrier was bothered

        relaxed = MediaTargets(carrier, media=MediaPlan(mode="relay", zone="nowhere"))
        async with sip_node(relaxed, media) as (_, port, cdrs):
            uas = await start_sipp("-sn", "uas", "-m", "1", port=carrier, cwd=tmp_path)
            uac = await start_sipp(
                "-sn", "uac", f"127.0.0.1:{port}", "-m", "1", "-d", "200",
                port=free_port(), cwd=tmp_path,
            )  # fmt: skip
            for peer in (uac, uas):
                rc, out = await peer.finish()
                assert rc == 0, out
            await until(lambda: len(cdrs) == 1)
            (cdr,) = cdrs
            assert cdr.release_reason is ReleaseReason.NORMAL
            assert cdr.media_caller is None  # direct media: the switch saw none


async def test_a_failover_keeps_the_media_session_for_the_next_carrier(
    tmp_path: Path, nats: NatsServer, relays: Any
) -> None:
    relay = await relays()
    broken, working = free_port(), free_port()
    policy = MediaTargets(broken, working, media=MediaPlan(mode="relay", strict=True))
    pcap = g711_pcap(tmp_path / "g711.pcap")
    async with media_plane(nats) as media, sip_node(policy, media) as (_, port, cdrs):
        await sees(media, relay)
        refuser = await start_sipp(
            "-sf", str(scenario("uas_reject", tmp_path, code=503)), "-m", "1",
            port=broken, cwd=tmp_path,
        )  # fmt: skip
        answerer = await start_sipp(
            "-sn", "uas", "-rtp_echo", "-mp", str(free_port()), "-m", "1",
            port=working, cwd=tmp_path,
        )  # fmt: skip
        uac = await start_sipp(
            "-sf", str(scenario("uac_rtp", tmp_path, pcap=pcap, pause=2500)),
            f"127.0.0.1:{port}", "-mp", str(free_port()), "-m", "1",
            port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, refuser, answerer):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(cdrs) == 1)

    (cdr,) = cdrs
    assert [a.sip_code for a in cdr.attempts] == [503, 200]
    assert cdr.media_caller is not None
    assert cdr.media_callee is not None
    assert cdr.media_caller.packets == 50
    assert cdr.media_callee.packets >= 45


async def test_an_unreadable_offer_is_refused_with_488_when_the_plan_is_strict(
    tmp_path: Path, nats: NatsServer, relays: Any
) -> None:
    relay = await relays()
    policy = MediaTargets(free_port(), media=MediaPlan(mode="relay", strict=True))
    bad = scenario("uac_sdp_expect_failure", tmp_path, code=488)
    text = bad.read_text()
    assert "c=IN IP[media_ip_type] [media_ip]" in text
    bad.write_text(text.replace("c=IN IP[media_ip_type] [media_ip]", "c=IN IP4"))
    async with media_plane(nats) as media, sip_node(policy, media) as (_, port, cdrs):
        await sees(media, relay)
        uac = await start_sipp(
            "-sf", str(bad), f"127.0.0.1:{port}", "-m", "1", port=free_port(), cwd=tmp_path
        )  # fmt: skip
        rc, out = await uac.finish()
        assert rc == 0, out
        await until(lambda: len(cdrs) == 1)

    (cdr,) = cdrs
    assert cdr.sip_code == 488
    assert cdr.release_reason is ReleaseReason.MEDIA_UNAVAILABLE
    assert cdr.attempts == []
    assert len(relay.control.plane.table) == 0


# -- late offers (an INVITE without SDP: the offer in the 200, the answer in the ACK) ----------


def late_carrier(tmp_path: Path, name: str = "uas_late_offer", **checks: str) -> Path:
    """A sipp carrier answering a late offer with its offer in the 200 (``checks``: what its
    ACK's body must match, ``answer``, and must not, ``not_``)."""
    return scenario(name, tmp_path, answer=checks["answer"], **{"not": checks["not_"]})


async def test_a_late_offer_is_anchored_and_its_rtp_flows_through_the_relay(
    tmp_path: Path, nats: NatsServer, relays: Any
) -> None:
    relay = await relays()
    broken, working = free_port(), free_port()
    policy = MediaTargets(broken, working, media=MediaPlan(mode="relay", strict=True))
    pcap = g711_pcap(tmp_path / "g711.pcap")
    caller_media = free_port()
    async with media_plane(nats) as media, sip_node(policy, media) as (b2bua, port, cdrs):
        await sees(media, relay)
        # The first carrier fails: the session (and its ports) carry over to the next one.
        refuser = await start_sipp(
            "-sf", str(scenario("uas_reject", tmp_path, code=503)), "-m", "1",
            port=broken, cwd=tmp_path,
        )  # fmt: skip
        # The carrier gets the caller's answer in its ACK, pointing at the relay, not the caller.
        uas = await start_sipp(
            "-sf", str(late_carrier(tmp_path, answer="m=audio [1-9][0-9]* RTP/AVP 0",
                                    not_=f"m=audio {caller_media} ")),
            "-rtp_echo", "-mp", str(free_port()), "-m", "1", port=working, cwd=tmp_path,
        )  # fmt: skip
        uac = await start_sipp(
            "-sf", str(scenario("uac_late_offer", tmp_path, pcap=pcap, pause=2500)),
            f"127.0.0.1:{port}", "-mp", str(caller_media), "-m", "1",
            port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, refuser, uas):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(cdrs) == 1)

    (cdr,) = cdrs
    assert cdr.release_reason is ReleaseReason.NORMAL
    assert [a.sip_code for a in cdr.attempts] == [503, 200]
    assert cdr.media_caller is not None
    assert cdr.media_callee is not None
    # Every packet the caller played crossed the relay (leg a latched on it, then the answer
    # named it), and the carrier's echo came back.
    assert cdr.media_caller.packets == 50
    assert cdr.media_caller.lost == 0
    assert 45 <= cdr.media_callee.packets <= 50
    assert len(relay.control.plane.table) == 0  # deleted
    assert not b2bua.calls
    assert not b2bua._awaiting


async def test_a_reinvite_without_sdp_is_answered_in_its_ack_through_the_relay(
    tmp_path: Path, nats: NatsServer, relays: Any
) -> None:
    relay = await relays()
    carrier = free_port()
    policy = MediaTargets(carrier, media=MediaPlan(mode="relay", strict=True))
    pcap = g711_pcap(tmp_path / "g711.pcap")
    caller_media = free_port()
    async with media_plane(nats) as media, sip_node(policy, media) as (b2bua, port, cdrs):
        await sees(media, relay)
        uas = await start_sipp(
            "-sf", str(late_carrier(tmp_path, "uas_late_reinvite",
                                    answer="m=audio [1-9][0-9]* RTP/AVP 0",
                                    not_=f"m=audio {caller_media} ")),
            "-rtp_echo", "-mp", str(free_port()), "-m", "1", port=carrier, cwd=tmp_path,
        )  # fmt: skip
        uac = await start_sipp(
            "-sf", str(scenario("uac_late_reinvite", tmp_path, pcap=pcap, pause=2500)),
            f"127.0.0.1:{port}", "-mp", str(caller_media), "-m", "1",
            port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, uas):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(cdrs) == 1)

    (cdr,) = cdrs
    assert cdr.release_reason is ReleaseReason.NORMAL
    assert cdr.media_caller is not None
    assert cdr.media_callee is not None
    assert cdr.media_caller.packets == 50
    assert 45 <= cdr.media_callee.packets <= 50
    assert len(relay.control.plane.table) == 0
    assert not b2bua._awaiting


async def test_an_ack_without_the_answer_to_a_late_offer_ends_the_call(
    tmp_path: Path, nats: NatsServer, relays: Any
) -> None:
    relay = await relays()
    carrier = free_port()
    policy = MediaTargets(carrier, media=MediaPlan(mode="relay"))
    async with media_plane(nats) as media, sip_node(policy, media) as (b2bua, port, cdrs):
        await sees(media, relay)
        # The carrier's ACK carries an answer rejecting its offer (RFC 3261 §13.2.2.4), then
        # it gets a BYE; so does the caller.
        uas = await start_sipp(
            "-sf", str(late_carrier(tmp_path, answer="m=audio 0 RTP/AVP 0",
                                    not_="m=audio [1-9]")),
            "-mp", str(free_port()), "-m", "1", port=carrier, cwd=tmp_path,
        )  # fmt: skip
        uac = await start_sipp(
            "-sf", str(scenario("uac_late_offer_no_answer", tmp_path)), f"127.0.0.1:{port}",
            "-m", "1", port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, uas):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(cdrs) == 1)

    (cdr,) = cdrs
    assert cdr.release_reason is ReleaseReason.MEDIA_NEGOTIATION_FAILED
    assert cdr.released_by is ReleasedBy.SWITCH
    assert cdr.answered_at is not None
    assert cdr.media_caller is not None  # the session was deleted, its figures kept
    assert len(relay.control.plane.table) == 0
    assert not b2bua.calls
    assert not b2bua._awaiting


async def test_with_no_relay_a_strict_late_offer_is_refused(
    tmp_path: Path, nats: NatsServer
) -> None:
    carrier = free_port()
    strict = MediaTargets(carrier, media=MediaPlan(mode="relay", zone="nowhere", strict=True))
    async with media_plane(nats) as media, sip_node(strict, media) as (_, port, cdrs):
        uac = await start_sipp(
            "-sf", str(scenario("uac_expect_failure", tmp_path, code=503)),
            f"127.0.0.1:{port}", "-m", "1", port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        rc, out = await uac.finish()
        assert rc == 0, out
        await until(lambda: len(cdrs) == 1)
    (cdr,) = cdrs
    assert cdr.release_reason is ReleaseReason.MEDIA_UNAVAILABLE
    assert cdr.sip_code == 503
    assert cdr.attempts == []  # no carrier was bothered


async def test_a_late_offer_cancelled_or_refused_deletes_its_relay_session(
    tmp_path: Path, nats: NatsServer, relays: Any
) -> None:
    relay = await relays()
    ringing, refusing = free_port(), free_port()
    async with media_plane(nats) as media:
        await sees(media, relay)
        cancelled = MediaTargets(ringing, media=MediaPlan(mode="relay", strict=True))
        async with sip_node(cancelled, media) as (_, port, cdrs):
            ringer = await start_sipp(
                "-sf", str(scenario("uas_ring_forever", tmp_path)), "-m", "1",
                port=ringing, cwd=tmp_path,
            )  # fmt: skip
            uac = await start_sipp(
                "-sf", str(scenario("uac_cancel", tmp_path)), f"127.0.0.1:{port}", "-m", "1",
                port=free_port(), cwd=tmp_path,
            )  # fmt: skip
            for peer in (uac, ringer):
                rc, out = await peer.finish()
                assert rc == 0, out
            await until(lambda: len(cdrs) == 1)
            await until(lambda: len(relay.control.plane.table) == 0)
            assert cdrs[0].release_reason is ReleaseReason.CANCELLED
            assert cdrs[0].media_caller is not None  # the session existed, and was deleted

        refused = MediaTargets(refusing, media=MediaPlan(mode="relay", strict=True))
        async with sip_node(refused, media) as (_, port, cdrs):
            refuser = await start_sipp(
                "-sf", str(scenario("uas_reject", tmp_path, code=486)), "-m", "1",
                port=refusing, cwd=tmp_path,
            )  # fmt: skip
            uac = await start_sipp(
                "-sf", str(scenario("uac_expect_failure", tmp_path, code=486)),
                f"127.0.0.1:{port}", "-m", "1", port=free_port(), cwd=tmp_path,
            )  # fmt: skip
            for peer in (uac, refuser):
                rc, out = await peer.finish()
                assert rc == 0, out
            await until(lambda: len(cdrs) == 1)
            await until(lambda: len(relay.control.plane.table) == 0)
            assert cdrs[0].release_reason is ReleaseReason.REJECTED
            assert cdrs[0].media_caller is not None
