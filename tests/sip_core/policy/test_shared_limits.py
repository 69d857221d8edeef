"""Limits hold for the platform: sip_core nodes exchange their figures over a real nats-server."""

from __future__ import annotations

from pathlib import Path

import pytest

from libs.bus import BusConnector
from libs.bus.limits import LimitUsage, limit_usage_subject
from libs.platform.natsd import NatsServer
from services.sip_core.policy import Limiter, LimitKey
from services.sip_core.policy.limits import LimitExceeded
from services.sip_core.policy.shared import SharedLimits
from tests.sip_core.policy.world import until

CUSTOMER = [LimitKey("customer:1", channels=2, cps=50)]


async def test_nodes_share_channels_and_forget_a_node_that_stops(tmp_path: Path) -> None:
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        connector = BusConnector(server.url, name="limits-test")
        connector.start()
        a_limiter, b_limiter = Limiter(), Limiter()
        a = SharedLimits(connector, a_limiter, node_id="node-a", interval=0.05)
        b = SharedLimits(connector, b_limiter, node_id="node-b", interval=0.05)
        try:
            a.start()
            b.start()
            await until(lambda: a.ready.is_set() and b.ready.is_set())
            first = a_limiter.acquire(CUSTOMER, 0.0)
            second = a_limiter.acquire(CUSTOMER, 0.0)
            assert not isinstance(first, LimitExceeded)
            assert not isinstance(second, LimitExceeded)
            # Node B learns that A holds both channels of the customer, and refuses a third.
            await until(lambda: b_limiter.in_use_everywhere("customer:1") == 2)
            assert b.peers == ["node-a"]
            refused = b_limiter.acquire(CUSTOMER, 0.0)
            assert isinstance(refused, LimitExceeded)
            first.release()
            await until(lambda: b_limiter.in_use_everywhere("customer:1") == 1)
            taken = b_limiter.acquire(CUSTOMER, 0.0)
            assert not isinstance(taken, LimitExceeded)
            await until(lambda: a_limiter.in_use_everywhere("customer:1") == 2)
            # Node A stops (or dies): after its reports expire, its call no longer counts at B.
            await a.stop()
            await until(lambda: b.peers == [], within=5)
            assert b_limiter.in_use_everywhere("customer:1") == 1
        finally:
            await a.stop()
            await b.stop()
            await connector.close()


async def test_stale_and_malformed_reports_are_ignored(tmp_path: Path) -> None:
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        connector = BusConnector(server.url, name="limits-test")
        connector.start()
        limiter = Limiter()
        shared = SharedLimits(connector, limiter, node_id="node-b", interval=0.05)
        try:
            shared.start()
            bus = await connector.wait_connected(10)
            await until(lambda: shared.ready.is_set())

            def report(sequence: int, count: int) -> LimitUsage:
                return LimitUsage(
                    node_id="node-a", sequence=sequence, expires_after=30, channels={"k": count}
                )

            await bus.publish(limit_usage_subject("node-a"), report(5, 3))
            await until(lambda: limiter.in_use_everywhere("k") == 3)
            await bus.publish(limit_usage_subject("node-a"), report(4, 9))  # overtaken: stale
            await bus.nc.publish(limit_usage_subject("node-a"), b'{"node_id": "node-a"}')
            await bus.nc.publish(limit_usage_subject("node-x"), b"not json")
            # Claiming to be another node than its subject says: ignored.
            await bus.publish(limit_usage_subject("node-c"), report(9, 7))
            await bus.publish(limit_usage_subject("node-a"), report(6, 1))
            await until(lambda: limiter.in_use_everywhere("k") == 1)
            assert shared.peers == ["node-a"]
        finally:
            await shared.stop()
            await connector.close()


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_the_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        SharedLimits(None, Limiter(), node_id="n", interval=interval)  # type: ignore[arg-type]
