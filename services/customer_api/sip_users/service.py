"""Your SIP users: :class:`libs.accounts.SipUsers` confined to your account."""

from __future__ import annotations

import uuid

from libs.accounts import SipUsers
from libs.accounts.rules import changes_of
from libs.db import KeysetPage, UnitOfWork
from libs.db.models import SipUser
from libs.liveconfig import ConfigPublisher
from services.customer_api.sip_users.schemas import SipUserCreate, SipUserUpdate


class SipUserService:
    def __init__(self, uow: UnitOfWork, publisher: ConfigPublisher, customer_id: uuid.UUID):
        self.customer_id = customer_id
        self.users = SipUsers(uow, publisher, tenant=customer_id)

    async def list(
        self, *, username_prefix: str | None, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[SipUser]:
        return await self.users.list(
            username_prefix=username_prefix, sort=sort, cursor=cursor, limit=limit
        )

    async def get(self, user_id: uuid.UUID) -> SipUser:
        return await self.users.get(user_id)

    async def create(self, data: SipUserCreate) -> tuple[SipUser, str | None]:
        fields = data.model_dump(exclude={"password"})
        return await self.users.create(self.customer_id, fields, data.password)

    async def update(self, user_id: uuid.UUID, data: SipUserUpdate) -> SipUser:
        return await self.users.update(user_id, changes_of(data))

    async def reset_password(self, user_id: uuid.UUID) -> tuple[SipUser, str]:
        return await self.users.generate_password(user_id)

    async def delete(self, user_id: uuid.UUID) -> None:
        await self.users.delete(user_id)
