"""Cross-domain lookups: what a write affects elsewhere (cascades, references, capacity).

Deleting a customer cascades in the database to its IP authentication entries, SIP users,
routes and their rewrite rules; their configuration keys must be deleted too, so services ask
here which rows a delete takes with it. All of it is SQL, so it lives in a repository.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from libs.accounts.queries import AccountQueries, Key
from libs.db.models import (
    Carrier,
    IpAuthEntry,
    RateCard,
    Route,
    SipUser,
)

__all__ = ["Dependents", "Key"]


class Dependents(AccountQueries):
    """switch_api's lookups, on top of the ones customer_api shares (customer, capacity,
    rewrite keys, realm, zones)."""

    async def _ids(self, statement: object) -> list[uuid.UUID]:
        return list((await self.session.scalars(statement)).all())  # type: ignore[call-overload]

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

    async def rate_card(self, card_id: uuid.UUID) -> RateCard | None:
        return await self.session.get(RateCard, card_id)

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
