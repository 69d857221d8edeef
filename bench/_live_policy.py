"""The issue's full policy path for ``sip_bench.py --policy live``: configuration published to
the bench's nats-server before each sip_core starts.

One customer authenticated by IP (127.0.0.1), a destination rewrite (``0`` → ``44``: sipp dials
``020…``), a route with three carriers (least cost; every gateway is the run's sipp UAS, the
cheapest is tried first), a sell card and three buy cards of ``PREFIXES`` prefixes each, a
balance that never runs out. CDRs carry the rating fields, as in production.
"""

from __future__ import annotations

import uuid

from libs.bus import BusConnector
from libs.liveconfig import ConfigPublisher
from libs.liveconfig.models import (
    BalanceConfig,
    CarrierConfig,
    CustomerConfig,
    GatewayConfig,
    IpAuthConfig,
    RewriteConfig,
    RouteCarrierConfig,
    RouteConfig,
    encode_rate_card,
)

PREFIXES = 100_000
#: What sipp dials (``-s``): rewritten to 4420123456, in the cards as prefix 4420123.
DIALLED = "020123456"

_CUSTOMER = uuid.UUID("00000000-0000-4000-8000-0000000000c1")
_SELL = uuid.UUID("00000000-0000-4000-8000-00000000a001")
_BUY = [uuid.UUID(f"00000000-0000-4000-8000-00000000b00{i}") for i in range(3)]
_CARRIERS = [uuid.UUID(f"00000000-0000-4000-8000-00000000c00{i}") for i in range(3)]
_IPAUTH = uuid.UUID("00000000-0000-4000-8000-0000000000e1")


def _card(card_id: uuid.UUID, rate: str) -> bytes:
    header = {
        "id": str(card_id), "currency": "EUR", "precision": 4, "rounding": "half_up",
        "name": f"bench {card_id}", "default_increments": "60/60",
    }  # fmt: skip
    revision = {"id": str(uuid.uuid4()), "effective_from": "2020-01-01T00:00:00+00:00"}
    rows = ([f"44{n:05d}", "UK", rate, "0", 60, 60, False] for n in range(PREFIXES))
    return b"".join(encode_rate_card(header, [(revision, rows)]))


class LiveConfig:
    def __init__(self, nats_url: str) -> None:
        self.connector = BusConnector(nats_url, name="sip-bench-config")
        self.publisher = ConfigPublisher(self.connector)
        self._cards_published = False
        self._version = 0

    async def publish(self, uas_port: int) -> None:
        """Everything, with every carrier's gateway at 127.0.0.1:``uas_port``."""
        self.connector.start()
        await self.connector.wait_connected(10)
        if not self._cards_published:
            await self.publisher.put_blob("ratecard", _SELL, _card(_SELL, "0.0500"))
            for index, card in enumerate(_BUY):
                await self.publisher.put_blob("ratecard", card, _card(card, f"0.01{index}0"))
            self._cards_published = True
        self._version += 1
        version = self._version
        carriers = [
            CarrierConfig(
                id=carrier, name=f"carrier {index}", rate_card_id=str(_BUY[index]),
                version=version,
                gateways=[GatewayConfig(id=str(carrier), host="127.0.0.1", port=uas_port)],
            )
            for index, carrier in enumerate(_CARRIERS)
        ]  # fmt: skip
        objects = [
            CustomerConfig(
                id=_CUSTOMER, name="bench", status="active", currency="EUR",
                debit_limit="1000000",
            ),
            BalanceConfig(id=_CUSTOMER, balance="1000000", currency="EUR"),
            IpAuthConfig(
                id=_IPAUTH, owner="customer", customer_id=_CUSTOMER, address="127.0.0.1",
                direction="ingress",
            ),
            RewriteConfig(
                id=uuid.UUID(int=_IPAUTH.int + 1), owner="ipauth", owner_id=_IPAUTH,
                target="destination", kind="prefix", match="0", replacement="44",
            ),
            RouteConfig(
                id=uuid.UUID(int=_CUSTOMER.int + 1), customer_id=str(_CUSTOMER),
                rate_card_id=str(_SELL), media_mode="bypass",
                carriers=[RouteCarrierConfig(carrier_id=str(c)) for c in _CARRIERS],
            ),
            *carriers,
        ]  # fmt: skip
        assert await self.publisher.publish(put=objects)

    async def close(self) -> None:
        await self.connector.close()
