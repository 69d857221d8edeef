"""SIP users for the operator: any customer's (the rules and hashing are in
:mod:`libs.accounts.sip_users`, shared with customer_api)."""

from __future__ import annotations

import uuid

from libs.accounts.sip_users import DUPLICATE_USER, NO_CAPACITY, SipUsers
from libs.db import KeysetPage, UnitOfWork
from libs.db.models import SipUser
from services.switch_api.live import LiveConfig
from services.switch_api.rules import changes_of
from services.switch_api.sip_users.schemas import SipUserCreate, SipUserUpdate

__all__ = ["DUPLICATE_USER", "NO_CAPACITY", "SipUserService"]


class SipUserService:
    def __init__(self, uow: UnitOfWork, live: LiveConfig) -> None:
        self.users = SipUsers(uow, live.publisher)

    async def list(
        self,
        *,
        customer_id: uuid.UUID | None,
        username_prefix: str | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[SipUser]:
        return await self.users.list(
            customer_id=customer_id,
            username_prefix=username_prefix,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    async def get(self, user_id: uuid.UUID) -> SipUser:
        return await self.users.get(user_id)

    async def create(self, data: SipUserCreate) -> tuple[SipUser, str | None]:
        """The new user, and its password if it was generated (shown once)."""
        fields = data.model_dump(exclude={"customer_id", "password"})
        return await self.users.create(data.customer_id, fields, data.password)

    async def update(self, user_id: uuid.UUID, data: SipUserUpdate) -> SipUser:
        return await self.users.update(user_id, changes_of(data))

    async def generate_password(self, user_id: uuid.UUID) -> tuple[SipUser, str]:
        return await self.users.generate_password(user_id)

    async def delete(self, user_id: uuid.UUID) -> None:
        await self.users.delete(user_id)
