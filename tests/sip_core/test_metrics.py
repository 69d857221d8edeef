"""A node's ``/metrics`` shows its calls, CPS, transactions, connections, DNS and pings."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from libs.platform.natsd import free_port
from libs.web import build_app
from services.sip_core.sip import Peer
from tests.sip_core.dnsserver import DnsServer
from tests.sip_core.sipp import start_sipp
from tests.sip_core.test_b2bua_calls import until
from tests.sip_core.test_edge_calls import Targets, sip_node

pytestmark = pytest.mark.slow


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape() -> Samples:
    app = build_app(title="metrics", version="0", description="test", routers=[])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_calls_connections_and_lookups(tmp_path: Path) -> None:
    carrier, closed = free_port(), free_port()
    zone = {("gw.carrier.test", "A"): (300, ["127.0.0.1"])}
    before = await scrape()
    async with DnsServer(zone) as dns:
        policy = Targets(
            Peer("TCP", "127.0.0.1", closed),  # refused: fails over
            Peer("TCP", "gw.carrier.test", carrier),
        )
        async with sip_node(
            policy, dns_servers=["127.0.0.1"], dns_port=dns.port, ping_interval=0.2
        ) as node:
            uas = await start_sipp(
                "-sn", "uas", "-t", "t1", "-aa", "-m", "2", port=carrier, cwd=tmp_path
            )
            uac = await start_sipp(
                "-sn", "uac", f"127.0.0.1:{node.port('udp')}", "-aa", "-m", "2", "-r", "2",
                "-d", "1000", port=free_port(), cwd=tmp_path,
            )  # fmt: skip
            await until(
                lambda: (
                    len(node.b2bua.calls) == 2
                    and all(call.phase.value == "answered" for call in node.b2bua.calls)
                )
            )
            during = await scrape()
            for peer in (uac, uas):
                rc, out = await peer.finish()
                assert rc == 0, out
            await until(lambda: len(node.cdrs) == 2)
            after = await scrape()

    assert value(during, "tandem_active_calls") == value(before, "tandem_active_calls") + 2
    assert value(during, "tandem_sip_connections", transport="TCP", direction="out") >= 1
    assert value(during, "tandem_calls_per_second") in (0, 1, 2)
    assert value(during, "tandem_sip_transactions") > 0
    assert value(after, "tandem_active_calls") == value(before, "tandem_active_calls")

    def grew(name: str, by: float = 1, **labels: str) -> bool:
        return value(after, name, **labels) - value(before, name, **labels) >= by

    assert grew("tandem_new_calls_total", 2)
    assert grew("tandem_calls_total", 2, outcome="answered")
    assert grew("tandem_pdd_seconds_count", 2)
    assert grew("tandem_sip_connects_total", 1, transport="TCP", result="connected")
    assert grew("tandem_sip_connects_total", 1, transport="TCP", result="refused")
    assert grew("tandem_sip_dns_lookups_total", 1, result="answer")
    assert grew("tandem_sip_pings_total", 2, result="sent")
