from __future__ import annotations

import uuid
from typing import Any

from libs.db import DuplicateKey, KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import Carrier, CarrierStatus, RateCardDirection
from libs.errors import Conflict, NotFound
from services.switch_api.carriers.repository import CarrierRepository
from services.switch_api.carriers.schemas import CarrierCreate, CarrierUpdate
from services.switch_api.dependents import Dependents
from services.switch_api.live import LiveConfig
from services.switch_api.rules import apply_changes, changes_of, invalid


class CarrierService:
    def __init__(self, uow: UnitOfWork, live: LiveConfig) -> None:
        self.uow = uow
        self.live = live
        self.carriers = CarrierRepository(uow.session)
        self.dependents = Dependents(uow.session)

    async def list(
        self,
        *,
        status: CarrierStatus | None,
        name_contains: str | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[Carrier]:
        statement = self.carriers.filtered(status=status, name_contains=name_contains)
        return await list_page(self.carriers, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, carrier_id: uuid.UUID) -> Carrier:
        carrier = await self.carriers.get(carrier_id)
        if carrier is None:
            raise NotFound(f"No carrier with id {carrier_id}")
        return carrier

    async def create(self, data: CarrierCreate) -> Carrier:
        fields = self._columns(data.model_dump())
        await self._check(fields)
        try:
            carrier = await self.carriers.add(Carrier(**fields))
        except DuplicateKey:
            raise Conflict(f"A carrier named {data.name!r} already exists") from None
        await self._publish(carrier)
        return carrier

    async def update(self, carrier_id: uuid.UUID, data: CarrierUpdate) -> Carrier:
        carrier = await self.get(carrier_id)
        changes = self._columns(changes_of(data, nullable={"rate_card_id"}))
        await self._check(
            {
                "failover_codes": carrier.failover_codes,
                "stop_codes": carrier.stop_codes,
                **changes,
            }
        )
        apply_changes(carrier, changes)
        try:
            await self.carriers.flush()
        except DuplicateKey:
            raise Conflict(f"A carrier named {data.name!r} already exists") from None
        await self._publish(carrier)
        return carrier

    async def delete(self, carrier_id: uuid.UUID) -> None:
        carrier = await self.get(carrier_id)
        routes = await self.dependents.routes_using_carrier(carrier_id)
        if routes:
            names = ", ".join(sorted(r.name or str(r.id) for r in routes)[:10])
            raise Conflict(
                f"Routes still list carrier {carrier.name!r} ({names}): remove it from their "
                "carriers and excluded carriers first."
            )
        cascaded = await self.dependents.carrier_keys(carrier_id)
        await self.carriers.delete(carrier)
        self.live.delete(self.uow, [("carrier", carrier_id), *cascaded])

    @staticmethod
    def _columns(fields: dict[str, Any]) -> dict[str, Any]:
        timeouts = fields.pop("timeouts", None)
        if timeouts is not None:
            fields["first_reply_timeout"] = timeouts["first_reply"]
            fields["post_dial_delay_timeout"] = timeouts["post_dial_delay"]
            fields["ring_timeout"] = timeouts["ring"]
        for key in ("failover_codes", "stop_codes"):
            if key in fields:
                fields[key] = sorted(set(fields[key]))
        return fields

    async def _check(self, fields: dict[str, Any]) -> None:
        both = set(fields.get("failover_codes", ())) & set(fields.get("stop_codes", ()))
        if both:
            raise invalid(
                "stop_codes",
                f"codes {sorted(both)} are also failover codes: a code either fails over to "
                "the next carrier or stops routing",
            )
        card_id = fields.get("rate_card_id")
        if card_id is not None:
            card = await self.dependents.rate_card(card_id)
            if card is None:
                raise invalid("rate_card_id", f"no rate card with id {card_id}")
            if card.direction is not RateCardDirection.BUY:
                raise invalid(
                    "rate_card_id",
                    f"rate card {card.name!r} is a sell card: a carrier needs a buy card",
                )

    async def _publish(self, carrier: Carrier) -> None:
        self.live.put(self.uow, await self.dependents.carrier_object(carrier))
