"""The sell rates a customer is offered: the rate cards their routes sell on.

A customer sees a card only while one of their routes uses it (``routes.rate_card_id``), and of
its revisions only the dated ones — the one in effect and those scheduled to take effect —
never drafts (work in progress) or superseded revisions. Rates are listed by prefix with a
keyset cursor, filtered by prefix, destination or a dialled number (the prefixes that cover it,
the longest being the one that applies), and exported as CSV streamed from a session of its
own.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.db import Database, utcnow
from libs.db.models import Rate, RateCard, RateCardDirection, RateCardRevision, Route
from libs.errors import BadRequest, NotFound

__all__ = [
    "RATE_COLUMNS",
    "CardOffer",
    "RateFilter",
    "SellRates",
    "rates_csv",
]

#: The CSV columns (the import's default columns, so an export can be imported again).
RATE_COLUMNS = (
    "prefix",
    "destination",
    "rate",
    "connection_fee",
    "initial_increment",
    "subsequent_increment",
    "blocked",
)
_CSV_CHUNK_ROWS = 2000
_STREAM_BATCH = 5000


@dataclass(frozen=True, slots=True)
class RateFilter:
    """What a rate listing or export keeps: all given conditions hold."""

    #: Prefixes starting with these digits.
    prefix: str | None = None
    #: Destinations containing this text (case-insensitive).
    destination: str | None = None
    #: The prefixes that cover this dialled number (the longest one applies).
    number: str | None = None

    def apply(self, statement: Select[Any]) -> Select[Any]:
        if self.prefix:
            statement = statement.where(Rate.prefix.startswith(self.prefix, autoescape=True))
        if self.destination:
            statement = statement.where(
                Rate.destination.icontains(self.destination, autoescape=True)
            )
        if self.number:
            covering = [self.number[:length] for length in range(1, len(self.number) + 1)]
            statement = statement.where(Rate.prefix.in_(covering))
        return statement


@dataclass(frozen=True, slots=True)
class CardOffer:
    """A sell card a customer is offered, with its revision in effect and the next one."""

    card: RateCard
    active: RateCardRevision | None
    scheduled: RateCardRevision | None


def encode_cursor(prefix: str) -> str:
    return base64.urlsafe_b64encode(prefix.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> str:
    """The last prefix of the previous page; 400 for a cursor this API did not issue."""
    try:
        prefix = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        prefix = ""
    if not prefix.isdigit():
        raise BadRequest("the cursor is malformed; use next_cursor as the API returned it")
    return prefix


class SellRates:
    """A customer's view of their sell cards (every query scoped to ``customer_id``)."""

    def __init__(self, session: AsyncSession, customer_id: uuid.UUID) -> None:
        self.session = session
        self.customer_id = customer_id

    def _assigned(self) -> Select[Any]:
        return select(Route.rate_card_id).where(Route.customer_id == self.customer_id)

    async def cards(self, *, now: datetime | None = None) -> list[CardOffer]:
        """Every sell card one of the customer's routes uses, by name."""
        statement = (
            select(RateCard)
            .where(
                RateCard.id.in_(self._assigned()),
                RateCard.direction == RateCardDirection.SELL,
            )
            .order_by(RateCard.name)
        )
        cards = (await self.session.scalars(statement)).all()
        return [await self._offer(card, now or utcnow()) for card in cards]

    async def card(self, card_id: uuid.UUID, *, now: datetime | None = None) -> CardOffer:
        """One of the customer's cards (404 for any card their routes do not use)."""
        card = await self.session.scalar(
            select(RateCard).where(
                RateCard.id == card_id,
                RateCard.id.in_(self._assigned()),
                RateCard.direction == RateCardDirection.SELL,
            )
        )
        if card is None:
            raise NotFound(f"No rate card with id {card_id}")
        return await self._offer(card, now or utcnow())

    async def revision(
        self, card_id: uuid.UUID, revision_id: uuid.UUID | None, *, now: datetime | None = None
    ) -> RateCardRevision:
        """The revision to show: the given one if it is in effect or scheduled, else the one in
        effect (404 if there is none, or for a draft, superseded or foreign revision)."""
        offer = await self.card(card_id, now=now)
        if revision_id is None:
            if offer.active is None:
                raise NotFound(f"Rate card {card_id} has no rates in effect yet")
            return offer.active
        moment = now or utcnow()
        revision = await self.session.get(RateCardRevision, revision_id)
        if (
            revision is None
            or revision.rate_card_id != card_id
            or revision.effective_from is None
            or (
                revision.effective_from <= moment
                and (offer.active is None or revision.id != offer.active.id)
            )
        ):
            raise NotFound(f"No revision with id {revision_id} on rate card {card_id}")
        return revision

    async def rates(
        self,
        revision_id: uuid.UUID,
        where: RateFilter,
        *,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Rate], str | None]:
        """A page of the revision's rates by prefix, and the next page's cursor."""
        statement = where.apply(select(Rate).where(Rate.revision_id == revision_id))
        if cursor is not None:
            statement = statement.where(Rate.prefix > decode_cursor(cursor))
        statement = statement.order_by(Rate.prefix).limit(limit + 1)
        rows = list((await self.session.scalars(statement)).all())
        if len(rows) <= limit:
            return rows, None
        return rows[:limit], encode_cursor(rows[limit - 1].prefix)

    async def _offer(self, card: RateCard, now: datetime) -> CardOffer:
        revisions: Sequence[RateCardRevision] = (
            await self.session.scalars(
                select(RateCardRevision)
                .where(
                    RateCardRevision.rate_card_id == card.id,
                    RateCardRevision.effective_from.is_not(None),
                )
                .order_by(RateCardRevision.effective_from)
            )
        ).all()
        started = [r for r in revisions if r.effective_from is not None and r.effective_from <= now]
        upcoming = [r for r in revisions if r.effective_from is not None and r.effective_from > now]
        return CardOffer(
            card=card,
            active=started[-1] if started else None,
            scheduled=upcoming[0] if upcoming else None,
        )


async def stream_rates(
    session: AsyncSession, revision_id: uuid.UUID, where: RateFilter = RateFilter()
) -> AsyncIterator[tuple[Any, ...]]:
    """The revision's rates in prefix order, as :data:`RATE_COLUMNS` tuples, in batches."""
    statement = where.apply(
        select(*(getattr(Rate, name) for name in RATE_COLUMNS))
        .where(Rate.revision_id == revision_id)
        .order_by(Rate.prefix)
        .execution_options(yield_per=_STREAM_BATCH)
    )
    result = await session.stream(statement)
    async for partition in result.partitions(_STREAM_BATCH):
        for row in partition:
            yield tuple(row)


async def rates_csv(
    database: Database, revision_id: uuid.UUID, where: RateFilter = RateFilter()
) -> AsyncIterator[bytes]:
    """The revision's rates as CSV (header first), in chunks, from a session of its own (the
    request's unit of work has ended when a streamed body is sent)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RATE_COLUMNS)
    count = 0
    async with database.session() as session:
        async for row in stream_rates(session, revision_id, where):
            prefix, destination, rate, fee, initial, subsequent, blocked = row
            writer.writerow(
                (
                    prefix,
                    destination,
                    format(rate.normalize(), "f"),
                    format(fee.normalize(), "f"),
                    initial,
                    subsequent,
                    "true" if blocked else "false",
                )
            )
            count += 1
            if count % _CSV_CHUNK_ROWS == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()
