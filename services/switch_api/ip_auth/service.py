"""IP authentication entries for the operator: any customer's or carrier's (the rules live in
:mod:`libs.accounts.ip_auth`, shared with customer_api)."""

from __future__ import annotations

import uuid

from libs.accounts.ip_auth import NULLABLE, IpAuthEntries, password_associated_data
from libs.db import KeysetPage, UnitOfWork
from libs.db.models import Direction, IpAuthEntry
from libs.security import KeyRing
from services.switch_api.ip_auth.schemas import IpAuthEntryCreate, IpAuthEntryUpdate
from services.switch_api.live import LiveConfig
from services.switch_api.rules import changes_of

__all__ = ["IpAuthService", "password_associated_data"]


class IpAuthService:
    def __init__(self, uow: UnitOfWork, live: LiveConfig, encryption: KeyRing | None) -> None:
        self.entries = IpAuthEntries(uow, live.publisher, encryption)

    async def list(
        self,
        *,
        customer_id: uuid.UUID | None,
        carrier_id: uuid.UUID | None,
        direction: Direction | str | None,
        address_prefix: str | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[IpAuthEntry]:
        return await self.entries.list(
            customer_id=customer_id,
            carrier_id=carrier_id,
            direction=direction,
            address_prefix=address_prefix,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    async def get(self, entry_id: uuid.UUID) -> IpAuthEntry:
        return await self.entries.get(entry_id)

    async def create(self, data: IpAuthEntryCreate) -> IpAuthEntry:
        return await self.entries.create(data.model_dump())

    async def update(self, entry_id: uuid.UUID, data: IpAuthEntryUpdate) -> IpAuthEntry:
        return await self.entries.update(entry_id, changes_of(data, nullable=NULLABLE))

    async def delete(self, entry_id: uuid.UUID) -> None:
        await self.entries.delete(entry_id)
