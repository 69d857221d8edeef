"""The security plane with real traffic over loopback: several 127.0.0.x addresses act as
different hosts (a flooder, a legitimate caller, a trusted peer), sipp places real calls, and
firewall rules travel through a real nats-server's configuration bucket."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from libs.bus import BusConnector, provision
from libs.liveconfig import ConfigPublisher
from libs.liveconfig.models import SETTINGS_ID, FirewallConfig, SettingsConfig
from libs.platform.natsd import NatsServer, free_port
from services.sip_core.protection import Protection
from tests.sip_core.protection_helpers import (
    Targets,
    live_protection,
    protected_node,
    udp_host,
    until,
)
from tests.sip_core.sipp import start_sipp

pytestmark = pytest.mark.slow


@pytest.fixture
async def connector(tmp_path: Path) -> AsyncIterator[BusConnector]:
    """A nats-server of this test's own (its configuration bucket holds only our rules)."""
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        connector = BusConnector(server.url, name="protection-test")
        connector.start()
        try:
            await provision((await connector.wait_connected(10)).js)
            yield connector
        finally:
            await connector.close()


async def test_a_flood_is_cut_off_while_a_caller_on_another_host_keeps_calling(
    tmp_path: Path,
) -> None:
    protection = Protection(
        time.monotonic,
        settings=SettingsConfig(
            id=SETTINGS_ID, flood_max_requests=40, flood_window_seconds=10, flood_block_seconds=60
        ),
    )
    carrier = free_port()
    async with protected_node(protection, Targets(carrier)) as node, udp_host("127.0.0.2") as bad:
        uas = await start_sipp("-sn", "uas", "-m", "20", port=carrier, cwd=tmp_path)
        uac = await start_sipp(
            "-sn", "uac", f"127.0.0.1:{node.port}", "-s", "4930123456", "-m", "20", "-r", "10",
            "-d", "200", port=free_port("127.0.0.3"), cwd=tmp_path, host="127.0.0.3",
        )  # fmt: skip
        await bad.flood(node.port, count=3000, per_second=1500)
        uac_rc, uac_out = await uac.finish()
        uas_rc, uas_out = await uas.finish()
        await asyncio.sleep(0.2)  # answers in flight

    assert uac_rc == 0, uac_out  # every legitimate call completed
    assert uas_rc == 0, uas_out
    assert bad.answers <= 40  # answered up to the limit, ignored after it
    assert protection.flood.banned("127.0.0.2", time.monotonic())
    assert not protection.flood.banned("127.0.0.3", time.monotonic())


async def test_a_trusted_source_is_never_cut_off(connector: BusConnector) -> None:
    publisher = ConfigPublisher(connector)
    trusted = FirewallConfig(id=uuid.uuid4(), network="127.0.0.4/32", action="trusted")
    await publisher.publish(put=[trusted])
    async with (
        live_protection(connector, flood_max_requests=20) as protection,
        protected_node(protection, Targets(free_port())) as node,
        udp_host("127.0.0.4") as peer,
        udp_host("127.0.0.2") as other,
    ):
        await peer.flood(node.port, count=600, per_second=600)
        await other.flood(node.port, count=600, per_second=600)
        await until(lambda: peer.answers == 600)
        await asyncio.sleep(0.2)
        assert other.answers <= 20  # the same traffic from an untrusted host is cut off
        assert await peer.probe(node.port)


async def test_blocks_and_unblocks_reach_every_node_within_a_second(
    connector: BusConnector,
) -> None:
    publisher = ConfigPublisher(connector)
    async with (
        live_protection(connector) as first,
        live_protection(connector) as second,
        protected_node(first, Targets(free_port())) as node_a,
        protected_node(second, Targets(free_port())) as node_b,
        udp_host("127.0.0.5") as blocked,
        udp_host("127.0.0.6") as bystander,
    ):
        nodes = (node_a.port, node_b.port)
        for port in nodes:
            assert await blocked.probe(port)

        rule = FirewallConfig(id=uuid.uuid4(), network="127.0.0.5/32", action="block")
        started = time.monotonic()
        await publisher.publish(put=[rule])
        await until(lambda: not first.admit("127.0.0.5") and not second.admit("127.0.0.5"))
        took = time.monotonic() - started
        assert took < 1.0, f"block applied after {took:.3f} s"
        for port in nodes:
            assert not await blocked.probe(port, within=0.3)  # dropped, unanswered
            assert await bystander.probe(port)

        started = time.monotonic()
        await publisher.publish(delete=[("firewall", rule.id)])
        await until(lambda: first.admit("127.0.0.5") and second.admit("127.0.0.5"), within=1.0)
        took = time.monotonic() - started
        assert took < 1.0, f"unblock applied after {took:.3f} s"
        for port in nodes:
            assert await blocked.probe(port)


async def test_a_rule_expires_on_the_node_without_switch_api(connector: BusConnector) -> None:
    publisher = ConfigPublisher(connector)
    rule = FirewallConfig(
        id=uuid.uuid4(),
        network="127.0.0.7",
        action="block",
        expires_at=datetime.now(UTC) + timedelta(seconds=1.5),
    )
    await publisher.publish(put=[rule])
    async with live_protection(connector) as protection:
        assert not protection.admit("127.0.0.7")
        took = await until(lambda: protection.admit("127.0.0.7"), within=5.0)
        assert took < 2.5  # the key is still in the bucket: the node dropped it by itself
