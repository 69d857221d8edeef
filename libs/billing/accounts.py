"""Payments, adjustments and the ledger listing: money moved by people, explained entry by entry.

Every call goes through :func:`libs.billing.ledger.post` (one atomic balance update, an entry
with the balance after it); the caller commits, then publishes the new balance.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.billing.errors import InvalidAdjustment, UnknownCustomer
from libs.billing.ledger import BalanceState, Posting, post
from libs.db import Repository, SortKey
from libs.db.models import BALANCE_SCALE, Customer, LedgerEntry, LedgerKind
from libs.db.types import utcnow

__all__ = ["MANUAL_KINDS", "LedgerRepository", "adjust", "customer_exists"]

#: What a person may post, and the sign each has on the balance.
MANUAL_KINDS: dict[LedgerKind, int] = {
    LedgerKind.PAYMENT: 1,
    LedgerKind.CREDIT: 1,
    LedgerKind.DEBIT: -1,
}
_UNIT = Decimal(1).scaleb(-BALANCE_SCALE)


class LedgerRepository(Repository[LedgerEntry]):
    model = LedgerEntry
    sort_keys = {"created_at": SortKey(LedgerEntry.created_at, datetime.fromisoformat)}

    def for_customer(
        self,
        customer_id: uuid.UUID,
        *,
        kind: LedgerKind | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> Select[tuple[LedgerEntry]]:
        statement = self.select().where(LedgerEntry.customer_id == customer_id)
        if kind is not None:
            statement = statement.where(LedgerEntry.kind == kind)
        if created_from is not None:
            statement = statement.where(LedgerEntry.created_at >= created_from)
        if created_to is not None:
            statement = statement.where(LedgerEntry.created_at < created_to)
        return statement


async def adjust(
    session: AsyncSession,
    customer_id: uuid.UUID,
    kind: LedgerKind,
    amount: Decimal,
    *,
    reference: str = "",
    author: str = "",
    note: str = "",
) -> tuple[LedgerEntry, BalanceState]:
    """Post a payment, credit or debit of ``amount`` (positive; the kind gives the sign).

    Raises:
        InvalidAdjustment: ``kind`` is not a manual kind, or ``amount`` is not positive or has
            more than 6 decimal places.
        UnknownCustomer: no such customer.
    """
    if kind not in MANUAL_KINDS:
        raise InvalidAdjustment(f"{kind.value} entries are written by billing, not by hand")
    if not amount.is_finite() or amount <= 0:
        raise InvalidAdjustment(f"the amount must be positive, not {amount}")
    if amount.quantize(_UNIT) != amount:
        raise InvalidAdjustment(f"the amount has more than {BALANCE_SCALE} decimal places")
    posting = Posting(
        customer_id=customer_id,
        amount=amount * MANUAL_KINDS[kind],
        kind=kind,
        reference=reference,
        author=author,
        note=note,
        created_at=utcnow(),
    )
    states = await post(session, [posting])
    state = states.get(customer_id)
    if state is None:
        raise UnknownCustomer(f"No customer with id {customer_id}")
    entry = await session.get(LedgerEntry, state.entry_ids[0])
    assert entry is not None
    return entry, state


async def customer_exists(session: AsyncSession, customer_id: uuid.UUID) -> bool:
    return await session.get(Customer, customer_id) is not None
