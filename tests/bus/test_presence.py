"""Presence: heartbeats appear, expire after a crash, vanish at once when withdrawn."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from libs.bus import (
    PRESENCE_BUCKET,
    AssetSettings,
    Bus,
    NodeHeartbeat,
    NodeRole,
    PresencePublisher,
    live_nodes,
    presence_key,
    provision,
)


@pytest.fixture
def bus(jetstream_bus: Bus) -> Bus:
    """Every test here changes JetStream assets: give each a server of its own."""
    return jetstream_bus


STARTED = datetime.now(UTC)


def heartbeats(
    node_id: str, role: NodeRole = "rtp_relay", zone: str = "eu-west"
) -> Callable[[], NodeHeartbeat]:
    def build() -> NodeHeartbeat:
        return NodeHeartbeat(
            node_id=node_id,
            role=role,
            zone=zone,
            version="0.1.0",
            started_at=STARTED,
            sent_at=datetime.now(UTC),
            load=0.1,
            capacity={"ports_in_use": 4},
        )

    return build


async def _wait_for(condition: Callable[[], Awaitable[bool]], timeout: float) -> float:
    """Poll an async condition until true; return how long it took (fails after timeout)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await condition():
        if loop.time() - started > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)
    return loop.time() - started


async def _ids(bus: Bus, role: str | None = None, zone: str | None = None) -> set[str]:
    return {node.node_id for node in await live_nodes(bus, role, zone)}


async def test_a_heartbeat_shows_up_and_withdraw_removes_it_at_once(bus: Bus) -> None:
    await provision(bus.js)
    publisher = PresencePublisher(
        bus, presence_key("rtp_relay", "relay-1"), heartbeats("relay-1"), interval=0.1
    )
    publisher.start()
    try:
        await _wait_for(lambda: _ids_contains(bus, "relay-1"), timeout=2)
        entry = await (await bus.key_value(PRESENCE_BUCKET)).get("rtp_relay.relay-1")
        assert entry.value is not None
        assert NodeHeartbeat.from_bytes(entry.value).zone == "eu-west"
    finally:
        await publisher.stop(withdraw=True)
    assert not publisher.running
    assert await _ids(bus) == set()


async def _ids_contains(bus: Bus, node_id: str) -> bool:
    return node_id in await _ids(bus)


async def _ids_lacks(bus: Bus, node_id: str) -> bool:
    return node_id not in await _ids(bus)


async def test_a_heartbeat_expires_after_the_node_stops_without_withdrawing(bus: Bus) -> None:
    ttl = 1.5
    await provision(bus.js, AssetSettings(presence_ttl=ttl))
    publisher = PresencePublisher(
        bus, presence_key("sip_core", "core-1"), heartbeats("core-1", "sip_core"), interval=0.2
    )
    publisher.start()
    await _wait_for(lambda: _ids_contains(bus, "core-1"), timeout=2)
    await publisher.stop(withdraw=False)  # as if the node had crashed
    assert await _ids(bus) == {"core-1"}  # still there: only the TTL removes it
    took = await _wait_for(lambda: _ids_lacks(bus, "core-1"), timeout=ttl + 3)
    assert took > 0.5


async def test_live_nodes_filters_by_role_and_zone(bus: Bus) -> None:
    await provision(bus.js)
    nodes: list[tuple[str, NodeRole, str]] = [
        ("relay-eu", "rtp_relay", "eu-west"),
        ("relay-us", "rtp_relay", "us-east"),
        ("core-eu", "sip_core", "eu-west"),
    ]
    publishers = [
        PresencePublisher(bus, presence_key(role, node_id), heartbeats(node_id, role, zone))
        for node_id, role, zone in nodes
    ]
    for publisher in publishers:
        assert await publisher.publish_now()
    try:
        assert await _ids(bus) == {"relay-eu", "relay-us", "core-eu"}
        assert await _ids(bus, role="rtp_relay") == {"relay-eu", "relay-us"}
        assert await _ids(bus, zone="eu-west") == {"relay-eu", "core-eu"}
        assert await _ids(bus, role="rtp_relay", zone="us-east") == {"relay-us"}
        assert await _ids(bus, role="lookup_api") == set()
    finally:
        for publisher in publishers:
            await publisher.stop()


async def test_live_nodes_skips_malformed_entries(bus: Bus) -> None:
    await provision(bus.js)
    kv = await bus.key_value(PRESENCE_BUCKET)
    await kv.put("rtp_relay.garbage", b"{not json")
    await kv.put("rtp_relay.other-shape", b'{"node_id": "x"}')
    publisher = PresencePublisher(bus, "rtp_relay.good", heartbeats("good"))
    assert await publisher.publish_now()
    assert await _ids(bus) == {"good"}
    await publisher.stop()


async def test_publisher_survives_failures_and_recovers(bus: Bus) -> None:
    # The bucket does not exist yet: every tick fails, the task keeps going.
    publisher = PresencePublisher(bus, "rtp_relay.patient", heartbeats("patient"), interval=0.05)
    publisher.start()
    try:
        await asyncio.sleep(0.3)
        assert publisher.running
        await provision(bus.js)
        await _wait_for(lambda: _ids_contains(bus, "patient"), timeout=2)
    finally:
        await publisher.stop()


def test_invalid_keys_are_refused(bus: Bus) -> None:
    with pytest.raises(ValueError, match="invalid presence key"):
        PresencePublisher(bus, "rtp_relay.has space", heartbeats("x"))
    with pytest.raises(ValueError, match="invalid presence key"):
        PresencePublisher(bus, "rtp_relay.", heartbeats("x"))
