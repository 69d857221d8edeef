from __future__ import annotations

import uuid

from libs.db import DuplicateKey, KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import Customer, CustomerStatus
from libs.errors import Conflict, NotFound
from libs.liveconfig.snapshot import customer_config
from services.switch_api.customers.repository import CustomerRepository
from services.switch_api.customers.schemas import CustomerCreate, CustomerUpdate
from services.switch_api.dependents import Dependents
from services.switch_api.live import LiveConfig
from services.switch_api.rules import apply_changes, changes_of, normalise_networks


class CustomerService:
    def __init__(self, uow: UnitOfWork, live: LiveConfig | None = None) -> None:
        self.uow = uow
        self.live = live
        self.customers = CustomerRepository(uow.session)
        self.dependents = Dependents(uow.session)

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
        fields = data.model_dump()
        fields["source_ranges"] = normalise_networks("source_ranges", data.source_ranges)
        try:
            customer = await self.customers.add(Customer(**fields))
        except DuplicateKey:
            raise Conflict(f"A customer named {data.name!r} already exists") from None
        self._publish(customer)
        return customer

    async def update(self, customer_id: uuid.UUID, data: CustomerUpdate) -> Customer:
        customer = await self.get(customer_id)
        changes = changes_of(data, nullable={"flood_max_requests"})
        if "source_ranges" in changes:
            changes["source_ranges"] = normalise_networks("source_ranges", changes["source_ranges"])
        limit = changes.get("channel_limit")
        if limit:  # 0 means "no limit at this level": nothing to hold SIP users to
            held = await self.dependents.sip_channels(customer_id)
            if held > limit:
                raise Conflict(
                    f"The customer's SIP users hold {held} channels: lower their channels "
                    f"before lowering the customer's to {limit}."
                )
        apply_changes(customer, changes)
        try:
            await self.customers.flush()
        except DuplicateKey:
            raise Conflict(f"A customer named {data.name!r} already exists") from None
        self._publish(customer)
        return customer

    async def delete(self, customer_id: uuid.UUID) -> None:
        customer = await self.get(customer_id)
        cascaded = await self.dependents.customer_keys(customer_id)
        await self.customers.delete(customer)
        if self.live is not None:
            self.live.delete(self.uow, [("customer", customer_id), *cascaded])

    def _publish(self, customer: Customer) -> None:
        if self.live is not None:
            self.live.put(self.uow, customer_config(customer))
