from __future__ import annotations

import uuid

from libs.db import DuplicateKey, KeysetPage, UnitOfWork
from libs.db.models import Customer, CustomerStatus
from libs.errors import Conflict, NotFound
from services.switch_api.common import list_page
from services.switch_api.customers.repository import CustomerRepository
from services.switch_api.customers.schemas import CustomerCreate, CustomerUpdate


class CustomerService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.customers = CustomerRepository(uow.session)

    async def list(
        self,
        *,
        status: CustomerStatus | None,
        name_contains: str | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[Customer]:
        statement = self.customers.filtered(status=status, name_contains=name_contains)
        return await list_page(self.customers, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, customer_id: uuid.UUID) -> Customer:
        customer = await self.customers.get(customer_id)
        if customer is None:
            raise NotFound(f"No customer with id {customer_id}")
        return customer

    async def create(self, data: CustomerCreate) -> Customer:
        try:
            return await self.customers.add(Customer(**data.model_dump()))
        except DuplicateKey:
            raise Conflict(f"A customer named {data.name!r} already exists") from None

    async def update(self, customer_id: uuid.UUID, data: CustomerUpdate) -> Customer:
        customer = await self.get(customer_id)
        changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
        for field, value in changes.items():
            setattr(customer, field, value)
        try:
            await self.customers.flush()
        except DuplicateKey:
            raise Conflict(f"A customer named {data.name!r} already exists") from None
        return customer

    async def delete(self, customer_id: uuid.UUID) -> None:
        await self.customers.delete(await self.get(customer_id))
