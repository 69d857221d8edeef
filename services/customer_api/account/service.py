"""The account view: the customer row, the channels its SIP users hold, and its live calls."""

from __future__ import annotations

import uuid

from libs.accounts import AccountQueries
from libs.db import UnitOfWork
from libs.errors import NotFound
from services.customer_api.account.schemas import Account


class AccountService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.queries = AccountQueries(uow.session)

    async def get(self, customer_id: uuid.UUID, *, live_channels: int | None) -> Account:
        customer = await self.queries.customer(customer_id)
        if customer is None:  # the account was deleted while the token lived
            raise NotFound(f"No customer with id {customer_id}")
        held = await self.queries.sip_channels(customer_id)
        return Account(
            id=customer.id,
            name=customer.name,
            status=customer.status,
            currency=customer.currency,
            balance=customer.balance,
            debit_limit=customer.debit_limit,
            available=customer.balance + customer.debit_limit,
            daily_spend_limit=customer.daily_spend_limit,
            channel_limit=customer.channel_limit,
            cps_limit=customer.cps_limit,
            max_call_duration=customer.max_call_duration,
            source_ranges=list(customer.source_ranges),
            sip_channels_allocated=held,
            sip_channels_available=(
                max(0, customer.channel_limit - held) if customer.channel_limit else None
            ),
            live_channels=live_channels,
            ip_auth_self_service=customer.ip_auth_self_service,
        )
