"""The routing table from live configuration: what sip_core and lookup_api both route with.

:func:`build_routing_table` turns the ``carrier`` and ``route`` objects and the ``ratecard``
blobs of a :class:`~libs.liveconfig.ConfigView` into one :class:`~libs.routing.RoutingTable`,
so a route lookup and a real call plan on the same data with the same code. Give the view
:func:`load_parsed_rate_card` as the ``ratecard`` loader: a card is parsed once, when its blob
arrives, not at each rebuild of the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from libs.liveconfig.models import CarrierConfig, RouteConfig, decode_rate_card
from libs.liveconfig.objects import BlobPointer
from libs.routing import (
    Carrier,
    InvalidConfig,
    RateCard,
    Route,
    RoutingTable,
    parse_carrier,
    parse_rate_card,
    parse_route,
)

__all__ = ["ROUTING_KINDS", "build_from_view", "build_routing_table", "load_parsed_rate_card"]

_log = structlog.get_logger(__name__)

#: The configuration kinds a routing table is built from (``ratecard`` is a blob kind).
ROUTING_KINDS = ("carrier", "route")


def load_parsed_rate_card(data: bytes, pointer: BlobPointer) -> RateCard:
    """A :class:`~libs.liveconfig.ConfigView` blob loader: the compiled card, parsed."""
    return parse_rate_card(decode_rate_card(data), f"ratecard.{pointer.id}")


def build_routing_table(
    carriers: Iterable[CarrierConfig],
    routes: Iterable[RouteConfig],
    rate_cards: Iterable[RateCard],
) -> RoutingTable:
    """A routing table from configuration objects; an object routing cannot read is left out
    (logged) rather than failing the whole table, as a dangling reference would be."""
    parsed_carriers: list[Carrier] = []
    for carrier in carriers:
        data: dict[str, Any] = carrier.model_dump(mode="json")
        data["rate_card_id"] = data.get("rate_card_id") or ""
        found = _parse(parse_carrier, data, carrier.key)
        if found is not None:
            parsed_carriers.append(found)
    parsed_routes: list[Route] = []
    for route in routes:
        found_route = _parse(parse_route, route.model_dump(mode="json"), route.key)
        if found_route is not None:
            parsed_routes.append(found_route)
    return RoutingTable(parsed_carriers, rate_cards, parsed_routes)


def build_from_view(objects: Mapping[str, Mapping[Any, Any]]) -> RoutingTable:
    """:func:`build_routing_table` from a view's ``all(kind)`` mappings by kind."""
    return build_routing_table(
        objects["carrier"].values(), objects["route"].values(), objects["ratecard"].values()
    )


def _parse(parser: Any, data: dict[str, Any], key: str) -> Any:
    try:
        return parser(data, key)
    except InvalidConfig as exc:
        _log.warning("configuration object left out of routing", key=key, error=str(exc))
        return None
