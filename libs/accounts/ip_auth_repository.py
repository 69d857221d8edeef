from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select

from libs.db import Repository, SortKey
from libs.db.models import Customer, Direction, IpAuthEntry


class IpAuthRepository(Repository[IpAuthEntry]):
    model = IpAuthEntry
    sort_keys = {
        "address": SortKey(IpAuthEntry.address),
        "created_at": SortKey(IpAuthEntry.created_at, datetime.fromisoformat),
    }

    def filtered(
        self,
        *,
        customer_id: uuid.UUID | None = None,
        carrier_id: uuid.UUID | None = None,
        direction: Direction | None = None,
        address_prefix: str | None = None,
    ) -> Select[tuple[IpAuthEntry]]:
        statement = self.select()
        if customer_id is not None:
            statement = statement.where(IpAuthEntry.customer_id == customer_id)
        if carrier_id is not None:
            statement = statement.where(IpAuthEntry.carrier_id == carrier_id)
        if direction is not None:
            statement = statement.where(IpAuthEntry.direction == direction)
        if address_prefix:
            statement = statement.where(
                IpAuthEntry.address.startswith(address_prefix, autoescape=True)
            )
        return statement

    async def ingress_of_other_customers(
        self, customer_id: uuid.UUID
    ) -> list[tuple[IpAuthEntry, str]]:
        """Other customers' ingress entries, with their customer's name."""
        statement = (
            select(IpAuthEntry, Customer.name)
            .join(Customer, Customer.id == IpAuthEntry.customer_id)
            .where(
                IpAuthEntry.customer_id != customer_id,
                IpAuthEntry.direction == Direction.INGRESS,
            )
        )
        return [(entry, name) for entry, name in (await self.session.execute(statement)).all()]
