"""A live configuration for policy tests: objects published into a real nats-server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from libs.bus import BusConnector, provision
from libs.bus.cdr import CallEnded
from libs.liveconfig import ConfigObject, ConfigPublisher
from libs.liveconfig.models import (
    BalanceConfig,
    CarrierConfig,
    CustomerConfig,
    GatewayConfig,
    IpAuthConfig,
    RouteCarrierConfig,
    RouteConfig,
    encode_rate_card,
)
from libs.platform.natsd import NatsServer, free_port
from services.sip_core.b2bua.calls import B2BUA
from services.sip_core.config import SipSettings
from services.sip_core.policy import LivePolicy
from services.sip_core.sip import TransactionLayer
from services.sip_core.stack import SipStack
from services.sip_core.transport import SipListeners


async def until(predicate: Callable[[], object], within: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@dataclass
class World:
    """The configuration one test builds, and the ids it will check in CDRs."""

    connector: BusConnector
    publisher: ConfigPublisher
    customer_id: uuid.UUID = field(default_factory=uuid.uuid4)
    sell_card_id: uuid.UUID = field(default_factory=uuid.uuid4)
    route_id: uuid.UUID = field(default_factory=uuid.uuid4)
    carriers: dict[int, uuid.UUID] = field(default_factory=dict)

    async def put(self, *objects: ConfigObject) -> None:
        assert await self.publisher.publish(put=objects)

    async def rate_card(
        self,
        card_id: uuid.UUID,
        rows: list[tuple[str, str]],
        *,
        increments: tuple[int, int] = (60, 60),
        blocked: tuple[str, ...] = (),
        extra_rows: int = 0,
    ) -> None:
        """A card of ``(prefix, rate)`` rows (plus ``extra_rows`` filler prefixes)."""
        header = {
            "id": str(card_id), "currency": "EUR", "precision": 4, "rounding": "half_up",
            "name": f"card {card_id}", "default_increments": "60/60",
        }  # fmt: skip
        revision = {"id": str(uuid.uuid4()), "effective_from": "2020-01-01T00:00:00+00:00"}
        initial, subsequent = increments
        lines = [
            [prefix, f"dest {prefix}", rate, "0", initial, subsequent, prefix in blocked]
            for prefix, rate in rows
        ]
        lines += [[f"9{n:07d}", "filler", "0.5", "0", 60, 60, False] for n in range(extra_rows)]
        data = b"".join(encode_rate_card(header, [(revision, lines)]))
        await self.publisher.put_blob("ratecard", card_id, data)

    def customer(self, **extra: Any) -> CustomerConfig:
        values: dict[str, Any] = {
            "id": self.customer_id, "name": "ACME", "status": "active", "currency": "EUR",
            "debit_limit": "0",
        }  # fmt: skip
        values.update(extra)
        return CustomerConfig(**values)

    def balance(self, amount: str, **extra: Any) -> BalanceConfig:
        return BalanceConfig(id=self.customer_id, balance=amount, currency="EUR", **extra)

    def ipauth(self, **extra: Any) -> IpAuthConfig:
        values: dict[str, Any] = {
            "id": uuid.uuid4(), "owner": "customer", "customer_id": self.customer_id,
            "address": "127.0.0.1", "direction": "ingress",
        }  # fmt: skip
        values.update(extra)
        return IpAuthConfig(**values)

    async def carrier(self, port: int, buy: str, **extra: Any) -> CarrierConfig:
        """A carrier with one gateway at 127.0.0.1:``port`` buying everything at ``buy``."""
        carrier_id, card_id = uuid.uuid4(), uuid.uuid4()
        await self.rate_card(card_id, [("", buy)])
        self.carriers[port] = carrier_id
        values: dict[str, Any] = {
            "id": carrier_id, "name": f"carrier {port}", "rate_card_id": str(card_id),
            "gateways": [GatewayConfig(id=str(uuid.uuid4()), host="127.0.0.1", port=port)],
            "timeouts": {"first_reply": 3.0, "post_dial_delay": 10.0, "ring": 30.0},
        }  # fmt: skip
        values.update(extra)
        carrier = CarrierConfig(**values)
        await self.put(carrier)
        return carrier

    def route(self, **extra: Any) -> RouteConfig:
        values: dict[str, Any] = {
            "id": self.route_id, "customer_id": str(self.customer_id),
            "rate_card_id": str(self.sell_card_id),
            "carriers": [RouteCarrierConfig(carrier_id=str(c)) for c in self.carriers.values()],
        }  # fmt: skip
        values.update(extra)
        return RouteConfig(**values)


@asynccontextmanager
async def bus(tmp_path: Path) -> AsyncIterator[World]:
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        connector = BusConnector(server.url, name="policy-test")
        connector.start()
        try:
            await provision((await connector.wait_connected(10)).js)
            yield World(connector, ConfigPublisher(connector))
        finally:
            await connector.close()


@dataclass
class Node:
    b2bua: B2BUA
    policy: LivePolicy
    port: int
    cdrs: list[CallEnded]


@asynccontextmanager
async def sip_node(world: World, node_id: str = "test-node", **options: Any) -> AsyncIterator[Node]:
    """A B2BUA on a free loopback port with a LivePolicy reading the world's configuration."""
    policy = LivePolicy(world.connector, node_id=node_id, zone="test", **options)
    policy.start()
    stack = SipStack(TransactionLayer())
    port = free_port()
    listeners = SipListeners(
        stack.received, SipSettings(host="127.0.0.1", udp_port=port, tcp_port=0, tls_port=0)
    )
    stack.sender = listeners
    await listeners.start()
    cdrs: list[CallEnded] = []
    b2bua = B2BUA(
        stack, policy, local_host="127.0.0.1", local_port=port, node_id=node_id,
        zone="test", cdr_sink=cdrs.append,
    )  # fmt: skip
    try:
        await policy.wait_ready(15)
        yield Node(b2bua, policy, port, cdrs)
    finally:
        await listeners.stop()
        stack.close()
        await policy.stop()


def today() -> datetime:
    return datetime.now(UTC)


def yesterday() -> datetime:
    return today() - timedelta(days=1)
