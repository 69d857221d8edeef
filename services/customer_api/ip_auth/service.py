"""Your IP authentication entries: :class:`libs.accounts.IpAuthEntries` confined to your
account. Everyone with read access sees them; changing them needs the operator's per-account
permission (``ip_auth_self_service``, set in switch_api), checked on every write."""

from __future__ import annotations

import uuid

from libs.accounts import AccountQueries, IpAuthEntries
from libs.accounts.rules import changes_of
from libs.db import KeysetPage, UnitOfWork
from libs.db.models import Direction, IpAuthEntry
from libs.errors import PermissionDenied
from libs.liveconfig import ConfigPublisher
from libs.security import KeyRing
from services.customer_api.ip_auth.schemas import IpAuthEntryCreate, IpAuthEntryUpdate

NOT_ALLOWED = (
    "Your operator manages the IP authentication of this account: ask them to change it, or "
    "to allow you to edit it yourself."
)


class IpAuthService:
    def __init__(
        self,
        uow: UnitOfWork,
        publisher: ConfigPublisher,
        encryption: KeyRing | None,
        customer_id: uuid.UUID,
    ) -> None:
        self.customer_id = customer_id
        self.queries = AccountQueries(uow.session)
        self.entries = IpAuthEntries(uow, publisher, encryption, tenant=customer_id)

    async def list(
        self,
        *,
        direction: Direction | None,
        address_prefix: str | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[IpAuthEntry]:
        return await self.entries.list(
            direction=direction,
            address_prefix=address_prefix,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    async def get(self, entry_id: uuid.UUID) -> IpAuthEntry:
        return await self.entries.get(entry_id)

    async def create(self, data: IpAuthEntryCreate) -> IpAuthEntry:
        await self._check_allowed()
        return await self.entries.create(data.model_dump())

    async def update(self, entry_id: uuid.UUID, data: IpAuthEntryUpdate) -> IpAuthEntry:
        await self.entries.get(entry_id)  # another account's entry is a 404, not a 403
        await self._check_allowed()
        return await self.entries.update(entry_id, changes_of(data))

    async def delete(self, entry_id: uuid.UUID) -> None:
        await self.entries.get(entry_id)
        await self._check_allowed()
        await self.entries.delete(entry_id)

    async def _check_allowed(self) -> None:
        # Locked: a write racing the operator switching the permission off waits for it.
        customer = await self.queries.customer(self.customer_id, lock=True)
        if customer is None or not customer.ip_auth_self_service:
            raise PermissionDenied(NOT_ALLOWED)
