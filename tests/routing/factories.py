"""Small factories for routing tests: a rate, a card, a carrier, a route, a table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from libs.rating import BillingIncrements, Rate
from libs.routing import (
    Carrier,
    Gateway,
    RateCard,
    RateRevision,
    Route,
    RouteCarrier,
    RoutingTable,
)

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def rate(
    prefix: str,
    per_minute: str,
    *,
    fee: str = "0",
    destination: str = "",
    blocked: bool = False,
    increments: BillingIncrements = BillingIncrements(60, 60),
) -> Rate:
    return Rate(
        prefix,
        destination or f"dest {prefix}",
        Decimal(per_minute),
        Decimal(fee),
        increments,
        blocked,
    )


def card(
    card_id: str,
    rates: Mapping[str, str] | Iterable[Rate],
    *,
    currency: str = "USD",
    since: datetime = EPOCH,
    later: Iterable[tuple[datetime, Mapping[str, str]]] = (),
    **options: Any,
) -> RateCard:
    """A card whose first revision holds ``rates`` ({prefix: per_minute} or Rate objects)."""

    def rows(given: Mapping[str, str] | Iterable[Rate]) -> list[Rate]:
        if isinstance(given, Mapping):
            return [rate(prefix, price) for prefix, price in given.items()]
        return list(given)

    revisions = [RateRevision.build(f"{card_id}-r0", since, rows(rates))]
    for number, (moment, more) in enumerate(later, start=1):
        revisions.append(RateRevision.build(f"{card_id}-r{number}", moment, rows(more)))
    return RateCard(card_id, currency, tuple(revisions), **options)


def carrier(
    carrier_id: str,
    card_id: str | None = None,
    *,
    gateways: Iterable[Gateway] | None = None,
    **options: Any,
) -> Carrier:
    if gateways is None:
        gateways = [Gateway(f"{carrier_id}-gw", f"{carrier_id}.example.net")]
    return Carrier(
        carrier_id, carrier_id.upper(), card_id or f"buy-{carrier_id}", tuple(gateways), **options
    )


def route(
    route_id: str = "r1",
    customer: str = "cust",
    sell: str = "sell",
    carriers: Iterable[str | RouteCarrier] = (),
    **options: Any,
) -> Route:
    entries = tuple(RouteCarrier(entry) if isinstance(entry, str) else entry for entry in carriers)
    return Route(route_id, customer, sell, carriers=entries, **options)


def table(
    *,
    carriers: Iterable[Carrier] = (),
    cards: Iterable[RateCard] = (),
    routes: Iterable[Route] = (),
) -> RoutingTable:
    return RoutingTable(carriers, cards, routes)
