from __future__ import annotations

import uuid

from libs.db import KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import Customer, CustomerUser
from libs.errors import NotFound, ValidationFailed
from libs.identity import IdentityContext, NewPerson, create_customer_user
from libs.identity.accounts import validate_allowed_sources
from libs.identity.people import account_throttle_key
from libs.identity.repositories import CustomerUserRepository, ThrottleRepository
from libs.security import PrincipalKind
from services.switch_api.customer_users.schemas import CustomerUserCreate, CustomerUserUpdate


class CustomerUserService:
    def __init__(self, uow: UnitOfWork, identity: IdentityContext) -> None:
        self.uow = uow
        self.identity = identity
        self.users = CustomerUserRepository(uow.session)

    async def list(
        self, *, customer_id: uuid.UUID | None, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[CustomerUser]:
        statement = self.users.filtered(customer_id=customer_id)
        return await list_page(self.users, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, user_id: uuid.UUID) -> CustomerUser:
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound(f"No customer user with id {user_id}")
        return user

    async def create(self, data: CustomerUserCreate) -> NewPerson:
        if await self.uow.session.get(Customer, data.customer_id) is None:
            raise ValidationFailed(f"No customer with id {data.customer_id}")
        return await create_customer_user(
            self.uow.session,
            self.identity,
            customer_id=data.customer_id,
            email=data.email,
            role=data.role,
            name=data.name,
            allowed_sources=data.allowed_sources,
        )

    async def update(self, user_id: uuid.UUID, data: CustomerUserUpdate) -> CustomerUser:
        user = await self.get(user_id)
        if data.name is not None:
            user.name = data.name
        if data.role is not None:
            user.role = data.role
        if data.allowed_sources is not None:
            user.allowed_sources = validate_allowed_sources(data.allowed_sources)
        if data.disabled is not None:
            user.disabled = data.disabled
        await self.users.flush()
        return user

    async def delete(self, user_id: uuid.UUID) -> None:
        await self.users.delete(await self.get(user_id))

    async def unlock(self, user_id: uuid.UUID) -> None:
        user = await self.get(user_id)
        throttles = ThrottleRepository(self.uow.session)
        row = await throttles.by_key(account_throttle_key(PrincipalKind.CUSTOMER, user.email))
        if row is not None:
            await throttles.delete(row)
