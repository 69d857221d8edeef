"""A customer's own call records and ledger: filters, keyset pages, summaries, CSV export.

Every query here is confined to one customer (the constructor's ``customer_id``) and rides
the billing indexes ``(customer_id, started_at, id)`` and ``(customer_id, created_at, id)``,
so a day of one customer's calls is an index range scan however large the table grows. What a
customer sees of a CDR is what they pay and what they dialled: never the carrier, its cost or
the buy rate (the operator's business).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from libs.db import Database, KeysetPage, Repository, SortKey
from libs.db.listing import list_page
from libs.db.models import Cdr, LedgerEntry, LedgerKind
from libs.db.models.billing import BALANCE_SCALE
from libs.db.types import Money

__all__ = [
    "CDR_CSV_COLUMNS",
    "CallFilter",
    "CallRecords",
    "CallSummary",
    "Grouping",
    "LedgerFilter",
    "cdrs_csv",
]

#: The columns of a CDR export, in order (the customer's view of a call).
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
_CSV_CHUNK_ROWS = 2000
_STREAM_BATCH = 2000
_MONEY = Money(scale=BALANCE_SCALE)


@dataclass(frozen=True, slots=True)
class CallFilter:
    """Which of the customer's calls: every given condition holds."""

    started_from: datetime | None = None
    started_before: datetime | None = None
    #: Numbers dialled starting with these digits (as received from the customer).
    callee_prefix: str | None = None
    #: Caller numbers starting with these digits.
    caller_prefix: str | None = None
    destination: str | None = None
    sip_code: int | None = None
    answered_only: bool = False
    sip_user_id: uuid.UUID | None = None
    ip_auth_id: uuid.UUID | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.started_from is not None:
            found.append(Cdr.started_at >= self.started_from)
        if self.started_before is not None:
            found.append(Cdr.started_at < self.started_before)
        if self.callee_prefix:
            found.append(Cdr.callee_received.startswith(self.callee_prefix, autoescape=True))
        if self.caller_prefix:
            found.append(Cdr.caller_received.startswith(self.caller_prefix, autoescape=True))
        if self.destination:
            found.append(Cdr.destination.icontains(self.destination, autoescape=True))
        if self.sip_code is not None:
            found.append(Cdr.sip_code == self.sip_code)
        if self.answered_only:
            found.append(Cdr.answered_at.is_not(None))
        if self.sip_user_id is not None:
            found.append(Cdr.sip_user_id == self.sip_user_id)
        if self.ip_auth_id is not None:
            found.append(Cdr.ipauth_id == self.ip_auth_id)
        return found


@dataclass(frozen=True, slots=True)
class LedgerFilter:
    kind: LedgerKind | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


class Grouping:
    """What a summary groups calls by."""

    DESTINATION = "destination"
    DAY = "day"


@dataclass(frozen=True, slots=True)
class CallSummary:
    """Traffic of one group: attempts, answered calls and what they cost."""

    key: str
    attempts: int
    answered: int
    duration_ms: int
    billed_seconds: int
    charge: Decimal

    @property
    def asr(self) -> Decimal:
        """Answer-seizure ratio, in percent (two places)."""
        if not self.attempts:
            return Decimal("0.00")
        return (Decimal(self.answered) * 100 / self.attempts).quantize(Decimal("0.01"))

    @property
    def acd_seconds(self) -> Decimal:
        """Average call duration of the answered calls, in seconds (one place)."""
        if not self.answered:
            return Decimal("0.0")
        return (Decimal(self.duration_ms) / 1000 / self.answered).quantize(Decimal("0.1"))

    @property
    def billed_minutes(self) -> Decimal:
        return (Decimal(self.billed_seconds) / 60).quantize(Decimal("0.01"))


class _CdrRepository(Repository[Cdr]):
    model = Cdr
    sort_keys = {"started_at": SortKey(Cdr.started_at, datetime.fromisoformat)}


class _LedgerRepository(Repository[LedgerEntry]):
    model = LedgerEntry
    sort_keys = {"created_at": SortKey(LedgerEntry.created_at, datetime.fromisoformat)}


def _day(session: AsyncSession) -> ColumnElement[str]:
    """The UTC day of ``started_at`` as ``YYYY-MM-DD``, on either back end."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", Cdr.started_at), "YYYY-MM-DD")
    # SQLite keeps UTC timestamps as ISO text (libs.db.UTCDateTime): the first ten characters.
    return func.substr(Cdr.started_at, 1, 10)


class CallRecords:
    """One customer's CDRs and ledger entries."""

    def __init__(self, session: AsyncSession, customer_id: uuid.UUID) -> None:
        self.session = session
        self.customer_id = customer_id
        self._cdrs = _CdrRepository(session)
        self._ledger = _LedgerRepository(session)

    def _calls(self, where: CallFilter) -> Select[tuple[Cdr]]:
        return self._cdrs.select().where(Cdr.customer_id == self.customer_id, *where.conditions())

    async def page(
        self, where: CallFilter, *, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[Cdr]:
        """A page of calls, newest first by default (``started_at`` / ``-started_at``)."""
        return await list_page(
            self._cdrs, self._calls(where), sort=sort, cursor=cursor, limit=limit
        )

    async def get(self, cdr_id: uuid.UUID) -> Cdr | None:
        """One of the customer's calls (``None`` for any other customer's)."""
        cdr = await self.session.get(Cdr, cdr_id)
        return cdr if cdr is not None and cdr.customer_id == self.customer_id else None

    async def summary(self, where: CallFilter, by: str) -> list[CallSummary]:
        """Totals per destination (largest charge first) or per UTC day (in date order)."""
        key = (
            func.coalesce(Cdr.destination, "") if by == Grouping.DESTINATION else _day(self.session)
        )
        statement = (
            select(
                key.label("key"),
                func.count().label("attempts"),
                func.sum(case((Cdr.answered_at.is_not(None), 1), else_=0)).label("answered"),
                func.coalesce(func.sum(Cdr.duration_ms), 0).label("duration_ms"),
                func.coalesce(func.sum(Cdr.billed_seconds), 0).label("billed_seconds"),
                type_coerce(func.sum(Cdr.charge), _MONEY).label("charge"),
            )
            .where(and_(Cdr.customer_id == self.customer_id, *where.conditions()))
            .group_by(key)
        )
        rows = (await self.session.execute(statement)).all()
        summaries = [
            CallSummary(
                key=str(row.key),
                attempts=int(row.attempts),
                answered=int(row.answered or 0),
                duration_ms=int(row.duration_ms),
                billed_seconds=int(row.billed_seconds),
                charge=row.charge if row.charge is not None else Decimal(0),
            )
            for row in rows
        ]
        if by == Grouping.DESTINATION:
            return sorted(summaries, key=lambda s: (-s.charge, s.key))
        return sorted(summaries, key=lambda s: s.key)

    async def ledger(
        self, where: LedgerFilter, *, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[LedgerEntry]:
        """A page of the customer's balance changes (payments, charges, adjustments)."""
        statement = self._ledger.select().where(LedgerEntry.customer_id == self.customer_id)
        if where.kind is not None:
            statement = statement.where(LedgerEntry.kind == where.kind)
        if where.created_from is not None:
            statement = statement.where(LedgerEntry.created_at >= where.created_from)
        if where.created_before is not None:
            statement = statement.where(LedgerEntry.created_at < where.created_before)
        return await list_page(self._ledger, statement, sort=sort, cursor=cursor, limit=limit)

    async def stream(self, where: CallFilter) -> AsyncIterator[Cdr]:
        """The calls in start order, fetched in batches (for exports)."""
        statement = (
            self._calls(where)
            .order_by(Cdr.started_at, Cdr.id)
            .execution_options(yield_per=_STREAM_BATCH)
        )
        result = await self.session.stream_scalars(statement)
        async for partition in result.partitions(_STREAM_BATCH):
            for cdr in partition:
                yield cast(Cdr, cdr)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    return str(value)


def csv_row(cdr: Cdr) -> Sequence[str]:
    """One export line (:data:`CDR_CSV_COLUMNS`)."""
    return [
        _text(v)
        for v in (
            cdr.call_id,
            cdr.started_at,
            cdr.answered_at,
            cdr.ended_at,
            cdr.caller_received,
            cdr.callee_received,
            cdr.destination,
            cdr.sell_prefix,
            Decimal(cdr.duration_ms) / 1000,
            cdr.billed_seconds,
            cdr.sell_rate,
            cdr.connection_fee,
            cdr.charge,
            cdr.currency,
            cdr.sip_code,
            cdr.sip_reason,
            cdr.release_reason,
            cdr.released_by,
            cdr.sip_user_id,
            cdr.ipauth_id,
            cdr.source_address,
        )
    ]


async def cdrs_csv(
    database: Database, customer_id: uuid.UUID, where: CallFilter
) -> AsyncIterator[bytes]:
    """The customer's calls as CSV (header first), in chunks, from a session of its own (the
    request's unit of work has ended when a streamed body is sent)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CDR_CSV_COLUMNS)
    count = 0
    async with database.session() as session:
        async for cdr in CallRecords(session, customer_id).stream(where):
            writer.writerow(csv_row(cdr))
            count += 1
            if count % _CSV_CHUNK_ROWS == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()
