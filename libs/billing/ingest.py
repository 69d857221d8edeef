"""Storing a batch of CDRs exactly once: rate, insert, charge — in the caller's transaction.

``INSERT … ON CONFLICT (call_id) DO NOTHING RETURNING call_id`` tells which CDRs are new; only
those are charged. A CDR delivered again (JetStream redelivery after a crash between commit and
ack, a duplicate publish outside the stream's window, two workers racing on one message) finds
its ``call_id`` taken and changes nothing; on PostgreSQL a racing insert waits for the first
transaction and then does nothing, so it cannot charge twice either.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from libs.billing.bulk import BulkInsert, is_postgresql
from libs.billing.cards import CardBook
from libs.billing.ledger import BalanceState, Posting, dialect_insert, post
from libs.billing.rating import RatedCall, carrier_attempt, rate_call
from libs.bus.cdr import CallEnded
from libs.db.models import Cdr, LedgerKind
from libs.db.types import utcnow

__all__ = ["BILLING_AUTHOR", "IngestResult", "ingest"]

#: The ledger author of call charges.
BILLING_AUTHOR = "billing"


@dataclass
class IngestResult:
    """What a batch changed: the CDRs stored (new call ids) and the customers' new balances."""

    stored: list[str] = field(default_factory=list)
    duplicates: int = 0
    balances: dict[uuid.UUID, BalanceState] = field(default_factory=dict)


async def ingest(
    session: AsyncSession,
    cdrs: Sequence[CallEnded],
    book: CardBook,
    *,
    now: datetime | None = None,
) -> IngestResult:
    """Rate and store ``cdrs``, charging each new one once; commits nothing."""
    now = now or utcnow()
    await book.prepare(session, cdrs)
    rated: dict[str, RatedCall] = {}
    for cdr in cdrs:
        if cdr.call_id not in rated:
            rated[cdr.call_id] = rate_call(
                cdr,
                sell_card=book.terms(cdr.sell_card_id),
                buy_card=book.terms(_buy_card(cdr)),
                buy_rate=book.buy_rate(cdr),
            )
    # Inserted in call id order: two transactions inserting overlapping batches (a redelivery
    # racing the first delivery) then take the unique index's locks in the same order and
    # wait for each other instead of deadlocking.
    rows = [
        {"id": uuid.uuid4(), "rated_at": now, **rated[call_id].row} for call_id in sorted(rated)
    ]
    result = IngestResult()
    if rows and is_postgresql(session):
        # One INSERT … SELECT unnest(arrays): see libs.billing.bulk.
        result.stored = [call_id for (call_id,) in await _CDR_INSERT.execute(session, rows)]
    elif rows:
        # One statement executed for many rows (compiled once, cached; SQLAlchemy batches the
        # rows into multi-row VALUES itself): a multi-row VALUES built per batch would take
        # longer to compile than the database takes to run it.
        statement = (
            dialect_insert(session, Cdr.__table__)
            .on_conflict_do_nothing(index_elements=["call_id"])  # type: ignore[attr-defined]
            .returning(Cdr.__table__.c.call_id)
        )
        connection = await session.connection()
        returned = await connection.execute(statement, rows)
        result.stored = list(returned.scalars().all())
    result.duplicates = len(cdrs) - len(result.stored)
    stored = set(result.stored)
    postings = [
        Posting(
            customer_id=call.cdr.customer_id,
            amount=-call.charge,
            kind=LedgerKind.CALL_CHARGE,
            reference=call.cdr.call_id,
            author=BILLING_AUTHOR,
            call_id=call.cdr.call_id,
            spend=call.charge,
            day=call.cdr.ended_at.astimezone(UTC).date(),
            created_at=now,
        )
        for call in rated.values()  # stream order: the ledger reads like the calls ended
        if call.cdr.call_id in stored and call.cdr.customer_id is not None and call.charge > 0
    ]
    result.balances = await post(session, postings)
    return result


_CDR_INSERT = BulkInsert(
    Cdr.__table__,  # type: ignore[arg-type]
    [column.name for column in Cdr.__table__.c if column.name != "rerated_at"],
    "ON CONFLICT (call_id) DO NOTHING RETURNING call_id",
)


def _buy_card(cdr: CallEnded) -> uuid.UUID | None:
    attempt = carrier_attempt(cdr)
    return attempt.buy_card_id if attempt is not None else None
