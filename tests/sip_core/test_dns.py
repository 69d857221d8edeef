"""Carrier names resolved as RFC 3263 says (SRV without a port, A/AAAA with one), cached by TTL,
against a DNS server of the test's own on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from libs.platform.natsd import free_port
from services.sip_core.sip import Peer
from services.sip_core.transport.dns import SipResolver
from tests.sip_core.dnsserver import DnsServer
from tests.sip_core.sipp import start_sipp
from tests.sip_core.test_b2bua_calls import until
from tests.sip_core.test_edge_calls import Targets, sip_node


def resolver(server: DnsServer, **options: float) -> SipResolver:
    return SipResolver(["127.0.0.1"], port=server.port, timeout=2.0, **options)


async def test_srv_records_are_tried_by_priority_then_names_by_address() -> None:
    zone = {
        ("_sip._udp.carrier.test", "SRV"): (
            300,
            ["20 10 5070 backup.carrier.test.", "10 10 5060 main.carrier.test."],
        ),
        ("_sips._tcp.carrier.test", "SRV"): (300, ["10 10 5061 main.carrier.test."]),
        ("main.carrier.test", "A"): (300, ["127.0.0.10", "127.0.0.11"]),
        ("backup.carrier.test", "A"): (300, ["127.0.0.20"]),
        ("plain.carrier.test", "A"): (300, ["127.0.0.30"]),
    }
    async with DnsServer(zone) as server:
        dns = resolver(server)
        # An RRset's order is the server's choice: the priority-10 target's two addresses first.
        udp = await dns.resolve(Peer("UDP", "carrier.test", 0))
        assert sorted(udp[:2]) == [("127.0.0.10", 5060), ("127.0.0.11", 5060)]
        assert udp[2:] == [("127.0.0.20", 5070)]
        tls = await dns.resolve(Peer("TLS", "carrier.test", 0))
        assert sorted(tls) == [("127.0.0.10", 5061), ("127.0.0.11", 5061)]
        # A port given: no SRV lookup (RFC 3263 §4.2), the name's addresses on that port.
        tcp = await dns.resolve(Peer("TCP", "main.carrier.test", 5080))
        assert sorted(tcp) == [("127.0.0.10", 5080), ("127.0.0.11", 5080)]
        assert ("_sip._tcp.main.carrier.test", "SRV") not in server.queries
        # No SRV records: the name itself on the transport's default port.
        assert await dns.resolve(Peer("TLS", "plain.carrier.test", 0)) == [("127.0.0.30", 5061)]
        # Unknown names resolve to nothing (the target then fails over); addresses need no DNS.
        assert await dns.resolve(Peer("UDP", "nowhere.test", 5060)) == []
        assert await dns.resolve(Peer("UDP", "192.0.2.1", 5060)) == [("192.0.2.1", 5060)]


async def test_answers_are_cached_for_their_ttl_and_lookups_shared() -> None:
    zone = {("gw.carrier.test", "A"): (1, ["127.0.0.40"])}
    async with DnsServer(zone) as server:
        dns = resolver(server, min_ttl=0.2)
        peer = Peer("UDP", "gw.carrier.test", 5060)
        assert dns.cached(peer) is None
        results = await asyncio.gather(*(dns.resolve(peer) for _ in range(20)))
        assert all(result == [("127.0.0.40", 5060)] for result in results)
        assert server.queries[("gw.carrier.test", "A")] == 1  # one query for 20 callers
        assert dns.cached(peer) == [("127.0.0.40", 5060)]
        await dns.resolve(peer)
        assert server.queries[("gw.carrier.test", "A")] == 1  # from the cache
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while dns.cached(peer) is not None:  # the 1 s TTL runs out
            assert loop.time() < deadline
            await asyncio.sleep(0.1)
        await dns.resolve(peer)
        assert server.queries[("gw.carrier.test", "A")] == 2


async def test_a_silent_dns_server_gives_nothing_within_the_timeout() -> None:
    silent = free_port()  # nothing answers there
    dns = SipResolver(["127.0.0.1"], port=silent, timeout=0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await dns.resolve(Peer("UDP", "slow.test", 5060)) == []
    assert loop.time() - started < 5


@pytest.mark.slow
async def test_calls_reach_carriers_by_name_and_skip_names_that_do_not_resolve(
    tmp_path: Path,
) -> None:
    carrier = free_port()
    zone = {
        ("_sip._udp.carrier.test", "SRV"): (300, [f"10 10 {carrier} gw1.carrier.test."]),
        ("gw1.carrier.test", "A"): (300, ["127.0.0.1"]),
    }
    async with DnsServer(zone) as server:
        policy = Targets(Peer("UDP", "unknown.test", 5060), Peer("UDP", "carrier.test", 0))
        async with sip_node(policy, dns_servers=["127.0.0.1"], dns_port=server.port) as node:
            uas = await start_sipp("-sn", "uas", "-m", "2", port=carrier, cwd=tmp_path)
            uac = await start_sipp(
                "-sn", "uac", f"127.0.0.1:{node.port('udp')}", "-m", "2", "-r", "2",
                "-d", "200", port=free_port(), cwd=tmp_path,
            )  # fmt: skip
            for peer in (uac, uas):
                rc, out = await peer.finish()
                assert rc == 0, out
            await until(lambda: len(node.cdrs) == 2)

    for cdr in node.cdrs:
        assert [a.sip_code for a in cdr.attempts] == [None, 200]
        assert cdr.attempts[0].reason == "unreachable"
    # Both calls' lookups of each name were answered from one query (then the cache).
    assert server.queries[("_sip._udp.carrier.test", "SRV")] == 1
