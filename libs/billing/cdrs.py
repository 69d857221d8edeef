"""CDR queries shared by switch_api (every customer) and customer_api (one customer's own).

* :class:`CdrFilters` — time range, customer, carrier, numbers (prefix of the received or sent
  number), SIP code, release reason, answered only;
* :class:`CdrRepository` — keyset pages on ``(started_at, id)`` (the indexes
  ``ix_cdrs_started_at_id`` and ``ix_cdrs_customer_id_started_at_id`` serve them: a customer's
  day is an index range scan however many CDRs the table holds), one CDR, summaries;
* :func:`export_csv` — every matching CDR as CSV, read in keyset chunks, each in a short
  transaction of its own, so a year's export streams in constant memory and never holds a
  transaction (or a server-side cursor) open while a slow client reads.

A customer-scoped caller passes ``customer_id`` in the filters and gets nothing else.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, cast, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from libs.db import Database, Money, Repository, SortKey
from libs.db.models import BALANCE_SCALE, Cdr
from libs.db.pagination import keyset_page

__all__ = [
    "CSV_COLUMNS",
    "CdrFilters",
    "CdrRepository",
    "GroupBy",
    "Summary",
    "export_csv",
    "narrowed",
]


@dataclass(frozen=True, slots=True)
class CdrFilters:
    """Which CDRs: every given criterion must hold (``started_to`` is exclusive)."""

    started_from: datetime | None = None
    started_to: datetime | None = None
    customer_id: uuid.UUID | None = None
    carrier_id: uuid.UUID | None = None
    #: A prefix of the caller's number as received or as sent.
    caller: str | None = None
    #: A prefix of the called number as received or as sent.
    callee: str | None = None
    sip_code: int | None = None
    release_reason: str | None = None
    #: ``True``: answered calls only; ``False``: unanswered only.
    answered: bool | None = None

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.started_from is not None:
            clauses.append(Cdr.started_at >= self.started_from)
        if self.started_to is not None:
            clauses.append(Cdr.started_at < self.started_to)
        if self.customer_id is not None:
            clauses.append(Cdr.customer_id == self.customer_id)
        if self.carrier_id is not None:
            clauses.append(Cdr.carrier_id == self.carrier_id)
        if self.caller:
            clauses.append(
                or_(
                    Cdr.caller_received.startswith(self.caller, autoescape=True),
                    Cdr.caller_sent.startswith(self.caller, autoescape=True),
                )
            )
        if self.callee:
            clauses.append(
                or_(
                    Cdr.callee_received.startswith(self.callee, autoescape=True),
                    Cdr.callee_sent.startswith(self.callee, autoescape=True),
                )
            )
        if self.sip_code is not None:
            clauses.append(Cdr.sip_code == self.sip_code)
        if self.release_reason is not None:
            clauses.append(Cdr.release_reason == self.release_reason)
        if self.answered is True:
            clauses.append(Cdr.answered_at.is_not(None))
        elif self.answered is False:
            clauses.append(Cdr.answered_at.is_(None))
        return clauses


class GroupBy(StrEnum):
    CUSTOMER = "customer"
    CARRIER = "carrier"
    DESTINATION = "destination"
    DAY = "day"


@dataclass(frozen=True, slots=True)
class Summary:
    """Traffic and money of one group of CDRs."""

    key: str | None
    attempts: int
    answered: int
    #: Answer-seizure ratio, percent of attempts answered (2 places).
    asr: Decimal
    #: Average call duration of answered calls, seconds (1 place).
    acd: Decimal
    #: Talk time, minutes (2 places).
    minutes: Decimal
    #: Minutes billed to customers (after increments, 2 places).
    billed_minutes: Decimal
    charge: Decimal
    cost: Decimal
    margin: Decimal


_MONEY = Money(scale=BALANCE_SCALE)
_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")


def _day_of(session: AsyncSession) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", Cdr.started_at), Date)
    return func.date(Cdr.started_at)  # SQLite keeps UTC text: its date part


class CdrRepository(Repository[Cdr]):
    model = Cdr
    sort_keys = {"started_at": SortKey(Cdr.started_at, datetime.fromisoformat)}

    def filtered(self, filters: CdrFilters) -> Select[tuple[Cdr]]:
        return self.select().where(*filters.where())

    async def get_one(
        self, cdr_id: uuid.UUID, *, customer_id: uuid.UUID | None = None
    ) -> Cdr | None:
        """One CDR; with ``customer_id``, only if it is that customer's."""
        cdr = await self.get(cdr_id)
        if cdr is None or (customer_id is not None and cdr.customer_id != customer_id):
            return None
        return cdr

    async def summary(
        self, filters: CdrFilters, group_by: GroupBy, *, limit: int = 1000
    ) -> list[Summary]:
        """Totals per group, the groups with the most attempts first."""
        key: Any = {
            GroupBy.CUSTOMER: Cdr.customer_id,
            GroupBy.CARRIER: Cdr.carrier_id,
            GroupBy.DESTINATION: Cdr.destination,
            GroupBy.DAY: _day_of(self.session),
        }[group_by]
        attempts = func.count()
        statement = (
            select(
                key.label("key"),
                attempts.label("attempts"),
                func.count(Cdr.answered_at).label("answered"),
                func.coalesce(func.sum(Cdr.duration_ms), 0).label("duration_ms"),
                func.coalesce(func.sum(Cdr.billed_seconds), 0).label("billed_seconds"),
                type_coerce(func.coalesce(func.sum(Cdr.charge), 0), _MONEY).label("charge"),
                type_coerce(func.coalesce(func.sum(Cdr.cost), 0), _MONEY).label("cost"),
            )
            .where(*filters.where())
            .group_by(key)
            .order_by(attempts.desc(), key)
            .limit(limit)
        )
        return [_summary(row) for row in await self.session.execute(statement)]


def _summary(row: Any) -> Summary:
    attempts, answered = int(row.attempts), int(row.answered)
    duration = Decimal(int(row.duration_ms)) / 1000
    charge, cost = Decimal(row.charge), Decimal(row.cost)
    key = row.key
    if isinstance(key, date | uuid.UUID):
        key = str(key)
    return Summary(
        key=key,
        attempts=attempts,
        answered=answered,
        asr=(Decimal(answered * 100) / attempts).quantize(_CENT, ROUND_HALF_UP)
        if attempts
        else Decimal(0),
        acd=(duration / answered).quantize(_TENTH, ROUND_HALF_UP) if answered else Decimal(0),
        minutes=(duration / 60).quantize(_CENT, ROUND_HALF_UP),
        billed_minutes=(Decimal(int(row.billed_seconds)) / 60).quantize(_CENT, ROUND_HALF_UP),
        charge=charge,
        cost=cost,
        margin=charge - cost,
    )


#: The CSV export's columns, in order (a header row names them).
CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "call_id",
    "started_at",
    "answered_at",
    "ended_at",
    "duration_ms",
    "billed_seconds",
    "customer_id",
    "caller_received",
    "callee_received",
    "caller_sent",
    "callee_sent",
    "destination",
    "sell_prefix",
    "sell_rate",
    "connection_fee",
    "charge",
    "currency",
    "carrier_id",
    "buy_prefix",
    "buy_rate",
    "cost",
    "cost_currency",
    "sip_code",
    "sip_reason",
    "release_reason",
    "released_by",
    "pdd_ms",
    "source_address",
    "zone",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    # Numbers and reasons come from the network: never let a spreadsheet run them as formulas
    # (OWASP "CSV injection"); a leading apostrophe keeps the text as text.
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


async def export_csv(
    database: Database,
    filters: CdrFilters,
    *,
    columns: Sequence[str] = CSV_COLUMNS,
    chunk: int = 5000,
    transform: Callable[[Cdr], dict[str, Any]] | None = None,
) -> AsyncIterator[bytes]:
    """The CSV (UTF-8, header first) of every CDR matching ``filters``, oldest first, in chunks
    of ``chunk`` rows read each in its own short transaction."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield buffer.getvalue().encode()
    cursor: str | None = None
    while True:
        async with database.session() as session:
            repository = CdrRepository(session)
            statement, to_page = keyset_page(
                repository.filtered(filters),
                id_column=Cdr.id,
                sort_keys=repository.sort_keys,
                sort="started_at",
                cursor=cursor,
                limit=chunk,
            )
            rows = (await session.scalars(statement)).all()
        page = to_page(rows)  # type: ignore[arg-type]
        buffer.seek(0)
        buffer.truncate()
        for cdr in page.items:
            values = transform(cdr) if transform else {}
            writer.writerow([_cell(values[c] if c in values else getattr(cdr, c)) for c in columns])
        yield buffer.getvalue().encode()
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def narrowed(filters: CdrFilters, **changes: Any) -> CdrFilters:
    """``filters`` with ``changes`` (e.g. a customer-scoped API forcing ``customer_id``)."""
    return replace(filters, **changes)
