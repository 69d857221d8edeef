from __future__ import annotations

from libs.bus import BusConnector, BusError, live_nodes
from libs.errors import ServiceUnavailable
from services.switch_api.nodes.schemas import Node


async def list_nodes(
    connector: BusConnector | None, *, role: str | None, zone: str | None
) -> list[Node]:
    """The nodes in the presence bucket now (503 while NATS is unreachable)."""
    if connector is None or not connector.connected:
        raise ServiceUnavailable("NATS is unreachable: node presence cannot be read now")
    try:
        heartbeats = await live_nodes(connector.bus, role=role, zone=zone)
    except BusError as exc:
        raise ServiceUnavailable(f"node presence cannot be read now: {exc}") from None
    return [
        Node(
            node_id=h.node_id,
            role=h.role,
            zone=h.zone,
            version=h.version,
            started_at=h.started_at,
            last_seen_at=h.sent_at,
            load=h.load,
            capacity=h.capacity,
            draining=h.draining,
            addresses=h.addresses,
        )
        for h in heartbeats
    ]
