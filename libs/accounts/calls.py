"""A customer's own call records and ledger, on billing's queries (:mod:`libs.billing.cdrs`,
:mod:`libs.billing.accounts`) with the customer forced into every filter.

What a customer sees of a CDR is what they dialled and what they pay: never the carrier, its
cost, the buy rate or the margin (the operator's business), so the export has its own columns
and the summaries drop cost and margin.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.billing.accounts import LedgerRepository
from libs.billing.cdrs import CdrFilters, CdrRepository, GroupBy, Summary, export_csv, narrowed
from libs.db import Database, KeysetPage
from libs.db.listing import list_page
from libs.db.models import Cdr, LedgerEntry, LedgerKind

__all__ = ["CDR_CSV_COLUMNS", "CallRecords", "LedgerFilter", "cdrs_csv"]

#: The columns of a customer's CDR export, in order.
CDR_CSV_COLUMNS = (
    "call_id",
    "started_at",
    "answered_at",
    "ended_at",
    "caller",
    "callee",
    "destination",
    "prefix",
    "duration_seconds",
    "billed_seconds",
    "rate",
    "connection_fee",
    "charge",
    "currency",
    "sip_code",
    "sip_reason",
    "release_reason",
    "released_by",
    "sip_user_id",
    "ip_auth_id",
    "source_address",
)


def _customer_view(cdr: Cdr) -> dict[str, Any]:
    """The export columns that are not the CDR's own attribute names."""
    return {
        "caller": cdr.caller_received,
        "callee": cdr.callee_received,
        "prefix": cdr.sell_prefix,
        "duration_seconds": Decimal(cdr.duration_ms) / 1000,
        "rate": cdr.sell_rate,
        "ip_auth_id": cdr.ipauth_id,
    }


@dataclass(frozen=True, slots=True)
class LedgerFilter:
    kind: LedgerKind | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


class CallRecords:
    """One customer's CDRs and ledger entries (whatever ``customer_id`` a filter names)."""

    def __init__(self, session: AsyncSession, customer_id: uuid.UUID) -> None:
        self.customer_id = customer_id
        self._cdrs = CdrRepository(session)
        self._ledger = LedgerRepository(session)

    def scoped(self, filters: CdrFilters) -> CdrFilters:
        return narrowed(filters, customer_id=self.customer_id, carrier_id=None)

    async def page(
        self, filters: CdrFilters, *, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[Cdr]:
        statement = self._cdrs.filtered(self.scoped(filters))
        return await list_page(self._cdrs, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, cdr_id: uuid.UUID) -> Cdr | None:
        """One of the customer's calls (``None`` for any other customer's)."""
        return await self._cdrs.get_one(cdr_id, customer_id=self.customer_id)

    async def summary(self, filters: CdrFilters, by: GroupBy) -> list[Summary]:
        """Totals per destination or UTC day (only those two: the rest is the operator's)."""
        if by not in (GroupBy.DESTINATION, GroupBy.DAY):
            raise ValueError(f"customers summarise by destination or day, not {by}")
        return await self._cdrs.summary(self.scoped(filters), by)

    async def ledger(
        self, where: LedgerFilter, *, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[LedgerEntry]:
        """A page of the customer's balance changes (payments, charges, adjustments)."""
        statement = self._ledger.for_customer(
            self.customer_id,
            kind=where.kind,
            created_from=where.created_from,
            created_to=where.created_to,
        )
        return await list_page(self._ledger, statement, sort=sort, cursor=cursor, limit=limit)


def cdrs_csv(
    database: Database, customer_id: uuid.UUID, filters: CdrFilters, *, chunk: int = 5000
) -> AsyncIterator[bytes]:
    """The customer's calls as CSV (header first, oldest first), streamed in keyset chunks of
    ``chunk`` rows, each read in a short transaction of its own."""
    scoped = narrowed(filters, customer_id=customer_id, carrier_id=None)
    return export_csv(
        database, scoped, columns=CDR_CSV_COLUMNS, chunk=chunk, transform=_customer_view
    )
