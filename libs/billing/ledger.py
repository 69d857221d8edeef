"""The ledger: every change of a balance is an entry, written in the transaction that makes it.

:func:`post` is the one way money moves. Per customer it runs one atomic
``UPDATE customers SET balance = balance + Σ, balance_version = balance_version + 1 …
RETURNING`` — the row lock it takes serialises concurrent writers (several billing workers, a
payment) without a read-modify-write race — then writes the entries with the exact balance after
each, and adds call charges to the customer's spend of the day. Customers are locked in id
order, so two transactions touching the same customers never deadlock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from libs.billing.bulk import BulkInsert, is_postgresql
from libs.db.models import BALANCE_SCALE, Customer, DailySpend, LedgerEntry, LedgerKind
from libs.db.types import Money, utcnow
from libs.liveconfig.models import BalanceConfig
from libs.liveconfig.snapshot import amount as decimal_text

__all__ = ["BalanceState", "Posting", "balance_configs", "dialect_insert", "post"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Posting:
    """One ledger entry to write: ``amount`` is its signed effect on the balance."""

    customer_id: uuid.UUID
    amount: Decimal
    kind: LedgerKind
    reference: str = ""
    author: str = ""
    note: str = ""
    call_id: str | None = None
    #: Added to the customer's spend of ``day`` (call charges; 0 for payments).
    spend: Decimal = _ZERO
    day: date | None = None
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class BalanceState:
    """A customer's balance right after a transaction's postings, and its version."""

    customer_id: uuid.UUID
    balance: Decimal
    version: int
    currency: str
    #: The ids of the ledger entries written, in posting order.
    entry_ids: tuple[uuid.UUID, ...] = ()


_PG = postgresql.dialect()  # type: ignore[no-untyped-call]
_BALANCE = Money(scale=BALANCE_SCALE)
_BALANCE_UNIT = Decimal(1).scaleb(-BALANCE_SCALE)
_LEDGER_INSERT = BulkInsert(
    LedgerEntry.__table__,  # type: ignore[arg-type]
    [column.name for column in LedgerEntry.__table__.c],
)
#: Customers locked in id order first: concurrent writers never deadlock.
_LOCK_CUSTOMERS = "SELECT id FROM customers WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE"
_MOVE_BALANCES = """
UPDATE customers AS c
SET balance = c.balance + d.delta, balance_version = c.balance_version + 1
FROM unnest($1::uuid[], $2::numeric[]) AS d (id, delta)
WHERE c.id = d.id
RETURNING c.id, c.balance, c.balance_version, c.currency
"""
_SPEND_UPSERT = """
INSERT INTO daily_spend (customer_id, day, amount)
SELECT * FROM unnest($1::uuid[], $2::date[], $3::numeric[])
ON CONFLICT (customer_id, day) DO UPDATE SET amount = daily_spend.amount + excluded.amount
"""


def dialect_insert(session: AsyncSession, table: Any) -> Insert:
    """``INSERT`` with the back end's ``ON CONFLICT`` support (PostgreSQL or SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def post(session: AsyncSession, postings: Sequence[Posting]) -> dict[uuid.UUID, BalanceState]:
    """Apply ``postings`` in the session's transaction; the new balance of each customer.

    Postings of a customer that does not exist (deleted since the call) are skipped: the caller
    still stores its CDR. Nothing is committed here.
    """
    by_customer: dict[uuid.UUID, list[Posting]] = {}
    for posting in postings:
        by_customer.setdefault(posting.customer_id, []).append(posting)
    states: dict[uuid.UUID, BalanceState] = {}
    entries: list[dict[str, Any]] = []
    spend: dict[tuple[uuid.UUID, date], Decimal] = {}
    moved = await _move_balances(
        session, {c: sum((p.amount for p in by_customer[c]), _ZERO) for c in by_customer}
    )
    for customer_id in sorted(by_customer):
        mine = by_customer[customer_id]
        row = moved.get(customer_id)
        if row is None:
            continue
        balance, version, currency = row
        # The balance after each entry, walking back from the final one.
        after = balance
        ids: list[uuid.UUID] = []
        mine_entries: list[dict[str, Any]] = []
        for posting in reversed(mine):
            entry_id = uuid.uuid4()
            ids.append(entry_id)
            mine_entries.append(
                {
                    "id": entry_id,
                    "customer_id": customer_id,
                    "kind": posting.kind,
                    "amount": posting.amount,
                    "balance_after": after,
                    "currency": currency,
                    "reference": posting.reference[:200],
                    "author": posting.author[:200],
                    "note": posting.note,
                    "call_id": posting.call_id,
                    "created_at": posting.created_at,
                }
            )
            after -= posting.amount
            if posting.spend and posting.day is not None:
                key = (customer_id, posting.day)
                spend[key] = spend.get(key, _ZERO) + posting.spend
        entries += reversed(mine_entries)
        states[customer_id] = BalanceState(
            customer_id, balance, version, currency, tuple(reversed(ids))
        )
    if entries and is_postgresql(session):
        await _LEDGER_INSERT.execute(session, entries)
    elif entries:
        await (await session.connection()).execute(
            dialect_insert(session, LedgerEntry.__table__), entries
        )
    if spend and is_postgresql(session):
        days = sorted(spend.items())
        await (await session.connection()).exec_driver_sql(
            _SPEND_UPSERT,
            ([c for (c, _), _ in days], [d for (_, d), _ in days], [v for _, v in days]),
        )
    elif spend:
        statement = dialect_insert(session, DailySpend)
        statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=[DailySpend.customer_id, DailySpend.day],
            set_={"amount": DailySpend.amount + statement.excluded.amount},  # type: ignore[attr-defined]
        )
        await session.execute(
            statement,
            [
                {"customer_id": customer, "day": day, "amount": value}
                for (customer, day), value in sorted(spend.items())
            ],
        )
    return states


async def _move_balances(
    session: AsyncSession, totals: dict[uuid.UUID, Decimal]
) -> dict[uuid.UUID, tuple[Decimal, int, str]]:
    """Add each total to its customer's balance atomically; ``(balance, version, currency)``.

    PostgreSQL: the rows are locked in id order (``SELECT … ORDER BY id FOR UPDATE``: no
    deadlock between workers), then one ``UPDATE … FROM (VALUES …) RETURNING`` moves them all.
    SQLite (one writer at a time anyway): one ``UPDATE … RETURNING`` per customer.
    """
    if not totals:
        return {}
    ids = sorted(totals)
    moved: dict[uuid.UUID, tuple[Decimal, int, str]] = {}
    if is_postgresql(session):
        # Fixed statement texts with array parameters: prepared once per connection (a
        # VALUES list built per call was compiled anew every batch).
        connection = await session.connection()
        await connection.exec_driver_sql(_LOCK_CUSTOMERS, (ids,))
        amounts = [_BALANCE.process_bind_param(totals[customer], _PG) for customer in ids]
        result = await connection.exec_driver_sql(_MOVE_BALANCES, (ids, amounts))
        returned = cast("list[tuple[uuid.UUID, Decimal, int, str]]", result.all())
        for customer, balance, version, currency in returned:
            moved[customer] = (Decimal(balance).quantize(_BALANCE_UNIT), version, currency)
        return moved
    for customer in ids:
        row = (
            await session.execute(
                update(Customer)
                .where(Customer.id == customer)
                .values(
                    balance=Customer.balance + totals[customer],
                    balance_version=Customer.balance_version + 1,
                )
                .returning(Customer.balance, Customer.balance_version, Customer.currency)
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        if row is not None:
            moved[customer] = (row[0], row[1], row[2])
    return moved


async def balance_configs(
    session: AsyncSession, states: Iterable[BalanceState], *, today: date
) -> list[BalanceConfig]:
    """The ``balance`` config objects of ``states``, with each customer's spend of ``today``."""
    states = list(states)
    if not states:
        return []
    spent: dict[uuid.UUID, Decimal] = dict(
        (
            await session.execute(
                select(DailySpend.customer_id, DailySpend.amount).where(
                    DailySpend.day == today,
                    DailySpend.customer_id.in_([s.customer_id for s in states]),
                )
            )
        ).all()
    )
    return [
        BalanceConfig(
            id=state.customer_id,
            version=state.version,
            balance=decimal_text(state.balance),
            currency=state.currency,
            spent_today=decimal_text(spent.get(state.customer_id, _ZERO)),
            day=today,
        )
        for state in states
    ]
