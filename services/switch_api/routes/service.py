from __future__ import annotations

import uuid
from typing import Any

from libs.db import KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import MatchKind, RateCardDirection, Route
from libs.errors import NotFound
from libs.liveconfig.snapshot import route_config
from libs.routing import InvalidPattern, Regex
from services.switch_api.dependents import Dependents
from services.switch_api.live import LiveConfig
from services.switch_api.routes.repository import RouteRepository
from services.switch_api.routes.schemas import RouteCreate, RouteUpdate
from services.switch_api.rules import apply_changes, changes_of, invalid

_NULLABLE = {"cli_pattern", "media_zone_id", "max_duration"}


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    if "dial_pattern" in fields:
        pattern = fields.pop("dial_pattern")
        fields["dial_kind"], fields["dial_pattern"] = pattern["kind"], pattern["value"]
    if "cli_pattern" in fields:
        pattern = fields.pop("cli_pattern")
        fields["cli_kind"] = pattern["kind"] if pattern else None
        fields["cli_pattern"] = pattern["value"] if pattern else None
    if "carriers" in fields:
        fields["carriers"] = [
            {"carrier_id": str(c["carrier_id"]), "priority": c["priority"], "weight": c["weight"]}
            for c in fields["carriers"]
        ]
    if "excluded_carrier_ids" in fields:
        fields["excluded_carrier_ids"] = sorted({str(i) for i in fields["excluded_carrier_ids"]})
    return fields


def _check_pattern(field: str, kind: MatchKind | None, value: str | None) -> None:
    if kind is None or value is None:
        return
    if kind is MatchKind.REGEX:
        try:
            Regex(value)
        except InvalidPattern as exc:
            raise invalid(field, str(exc)) from None
    elif value and not value.isdigit():
        raise invalid(field, f"a prefix is digits (or empty for every number), not {value!r}")


class RouteService:
    def __init__(self, uow: UnitOfWork, live: LiveConfig) -> None:
        self.uow = uow
        self.live = live
        self.routes = RouteRepository(uow.session)
        self.dependents = Dependents(uow.session)

    async def list(
        self,
        *,
        customer_id: uuid.UUID | None,
        rate_card_id: uuid.UUID | None,
        tech_prefix: str | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[Route]:
        statement = self.routes.filtered(
            customer_id=customer_id, rate_card_id=rate_card_id, tech_prefix=tech_prefix
        )
        return await list_page(self.routes, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, route_id: uuid.UUID) -> Route:
        route = await self.routes.get(route_id)
        if route is None:
            raise NotFound(f"No route with id {route_id}")
        return route

    async def create(self, data: RouteCreate) -> Route:
        if await self.dependents.customer(data.customer_id) is None:
            raise invalid("customer_id", f"no customer with id {data.customer_id}")
        route = Route(**_columns(data.model_dump()))
        await self._validate(route)
        await self.routes.add(route)
        await self._publish(route)
        return route

    async def update(self, route_id: uuid.UUID, data: RouteUpdate) -> Route:
        route = await self.get(route_id)
        apply_changes(route, _columns(changes_of(data, nullable=_NULLABLE)))
        await self._validate(route)
        await self.routes.flush()
        await self._publish(route)
        return route

    async def delete(self, route_id: uuid.UUID) -> None:
        await self.routes.delete(await self.get(route_id))
        self.live.delete(self.uow, [("route", route_id)])

    async def _validate(self, route: Route) -> None:
        _check_pattern("dial_pattern", route.dial_kind, route.dial_pattern)
        _check_pattern("cli_pattern", route.cli_kind, route.cli_pattern)
        card = await self.dependents.rate_card(route.rate_card_id)
        if card is None:
            raise invalid("rate_card_id", f"no rate card with id {route.rate_card_id}")
        if card.direction is not RateCardDirection.SELL:
            raise invalid(
                "rate_card_id", f"rate card {card.name!r} is a buy card: a route needs a sell card"
            )
        listed = [uuid.UUID(c["carrier_id"]) for c in route.carriers]
        if len(set(listed)) != len(listed):
            raise invalid("carriers", "a carrier is listed twice")
        excluded = [uuid.UUID(i) for i in route.excluded_carrier_ids]
        both = set(listed) & set(excluded)
        if both:
            raise invalid(
                "excluded_carrier_ids", f"carriers {sorted(map(str, both))} are also allowed"
            )
        missing = set(listed + excluded) - await self.dependents.carriers_exist(listed + excluded)
        if missing:
            raise invalid("carriers", f"no carriers with ids {sorted(map(str, missing))}")
        if route.media_zone_id is not None and not await self.dependents.zone_exists(
            route.media_zone_id
        ):
            raise invalid("media_zone_id", f"no zone with id {route.media_zone_id}")

    async def _publish(self, route: Route) -> None:
        zones = await self.dependents.zones() if route.media_zone_id else {}
        self.live.put(self.uow, route_config(route, zones))
