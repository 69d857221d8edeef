"""Cross-domain lookups: what a write affects elsewhere (cascades, references, capacity).

Deleting a customer cascades in the database to its IP authentication entries, SIP users,
routes and their rewrite rules; their configuration keys must be deleted too, so services ask
here which rows a delete takes with it. All of it is SQL, so it lives in a repository.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.db.models import (
    Carrier,
    Customer,
    Direction,
    IpAuthEntry,
    RateCard,
    RewriteRule,
    Route,
    SipUser,
    Zone,
)
from libs.liveconfig.models import CarrierConfig
from libs.liveconfig.snapshot import carrier_config, zone_names

__all__ = ["Dependents", "Key"]

Key = tuple[str, uuid.UUID]


class Dependents:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _ids(self, statement: object) -> list[uuid.UUID]:
        return list((await self.session.scalars(statement)).all())  # type: ignore[call-overload]

    async def rewrite_keys(
        self, *, ip_auth_ids: Sequence[uuid.UUID] = (), sip_user_ids: Sequence[uuid.UUID] = ()
    ) -> list[Key]:
        if not ip_auth_ids and not sip_user_ids:
            return []
        ids = await self._ids(
            select(RewriteRule.id).where(
                or_(
                    RewriteRule.ip_auth_id.in_(list(ip_auth_ids)),
                    RewriteRule.sip_user_id.in_(list(sip_user_ids)),
                )
            )
        )
        return [("rewrite", i) for i in ids]

    async def customer_keys(self, customer_id: uuid.UUID) -> list[Key]:
        """Every key that deleting the customer removes (besides its own)."""
        entries = await self._ids(
            select(IpAuthEntry.id).where(IpAuthEntry.customer_id == customer_id)
        )
        users = await self._ids(select(SipUser.id).where(SipUser.customer_id == customer_id))
        routes = await self._ids(select(Route.id).where(Route.customer_id == customer_id))
        return [
            *(("ipauth", i) for i in entries),
            *(("sipuser", i) for i in users),
            *(("route", i) for i in routes),
            *await self.rewrite_keys(ip_auth_ids=entries, sip_user_ids=users),
        ]

    async def carrier_keys(self, carrier_id: uuid.UUID) -> list[Key]:
        entries = await self._ids(
            select(IpAuthEntry.id).where(IpAuthEntry.carrier_id == carrier_id)
        )
        return [*(("ipauth", i) for i in entries), *await self.rewrite_keys(ip_auth_ids=entries)]

    async def carrier_object(self, carrier: Carrier) -> CarrierConfig:
        """The carrier's config object, with its gateways (egress entries)."""
        gateways = (
            await self.session.scalars(
                select(IpAuthEntry).where(
                    IpAuthEntry.carrier_id == carrier.id,
                    IpAuthEntry.direction == Direction.EGRESS,
                )
            )
        ).all()
        return carrier_config(carrier, gateways)

    async def zones(self) -> dict[uuid.UUID, str]:
        return await zone_names(self.session)

    async def zone_exists(self, zone_id: uuid.UUID) -> bool:
        return await self.session.get(Zone, zone_id) is not None

    async def rate_card(self, card_id: uuid.UUID) -> RateCard | None:
        return await self.session.get(RateCard, card_id)

    async def customer(self, customer_id: uuid.UUID, *, lock: bool = False) -> Customer | None:
        """The customer; ``lock`` holds its row until commit (PostgreSQL ``FOR UPDATE``; SQLite
        serialises writers anyway) so capacity checks cannot race."""
        if not lock:
            return await self.session.get(Customer, customer_id)
        statement = select(Customer).where(Customer.id == customer_id).with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def sip_channels(
        self, customer_id: uuid.UUID, *, excluding: uuid.UUID | None = None
    ) -> int:
        """The channels the customer's SIP users hold (one of them left out, if given)."""
        statement = select(func.coalesce(func.sum(SipUser.channel_limit), 0)).where(
            SipUser.customer_id == customer_id
        )
        if excluding is not None:
            statement = statement.where(SipUser.id != excluding)
        return int(await self.session.scalar(statement) or 0)

    async def carriers_exist(self, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        if not ids:
            return set()
        return set(await self._ids(select(Carrier.id).where(Carrier.id.in_(list(ids)))))

    async def routes_using_carrier(self, carrier_id: uuid.UUID) -> list[Route]:
        text = str(carrier_id)
        routes = (await self.session.scalars(select(Route))).all()
        return [
            r
            for r in routes
            if text in r.excluded_carrier_ids or any(c["carrier_id"] == text for c in r.carriers)
        ]

    async def card_users(self, card_id: uuid.UUID) -> tuple[list[str], list[str]]:
        """Names of the carriers and ids of the routes that use the card."""
        carriers = (
            await self.session.scalars(select(Carrier.name).where(Carrier.rate_card_id == card_id))
        ).all()
        routes = await self._ids(select(Route.id).where(Route.rate_card_id == card_id))
        return list(carriers), [str(r) for r in routes]

    async def routes_in_zone(self, zone_id: uuid.UUID) -> list[Route]:
        return list(
            (await self.session.scalars(select(Route).where(Route.media_zone_id == zone_id))).all()
        )

    async def entries_in_zone(self, zone_id: uuid.UUID) -> list[IpAuthEntry]:
        return list(
            (
                await self.session.scalars(
                    select(IpAuthEntry).where(IpAuthEntry.media_zone_id == zone_id)
                )
            ).all()
        )
