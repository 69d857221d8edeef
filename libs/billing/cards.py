"""What the billing worker needs from the rate cards, cached: card terms and buy rates.

A CDR carries its sell rate, fee and increments (sip_core priced the call with them) but not
the card's precision and rounding; an attempt carries its buy rate but not the buy rate's
increments and fee. :class:`CardBook` loads those for a whole batch in a few queries and keeps
them for :data:`CACHE_SECONDS` (a card edit reaches billing within that time; rates of a
revision in effect do not change, a fix is a new revision).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from libs.billing.rating import BuyRate, CardTerms, carrier_attempt
from libs.bus.cdr import CallEnded
from libs.db.models import Rate, RateCard, RateCardRevision

__all__ = ["CACHE_SECONDS", "CardBook", "revision_at"]

CACHE_SECONDS = 60.0

#: Revisions of a card: ``(effective_from, revision id)``, oldest first.
Revisions = list[tuple[datetime, uuid.UUID]]


def revision_at(revisions: Revisions, at: datetime) -> uuid.UUID | None:
    """The revision in effect at ``at``: the latest that took effect at or before it."""
    found = None
    for effective_from, revision_id in revisions:
        if effective_from > at:
            break
        found = revision_id
    return found


class CardBook:
    """Card terms and buy rates by id, loaded per batch and cached for a minute."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._loaded_at = clock()
        self._terms: dict[uuid.UUID, CardTerms | None] = {}
        self._revisions: dict[uuid.UUID, Revisions] = {}
        self._rates: dict[tuple[uuid.UUID, str], BuyRate | None] = {}

    def _expire(self) -> None:
        if self._clock() - self._loaded_at > CACHE_SECONDS:
            self._terms.clear()
            self._revisions.clear()
            self._rates.clear()
            self._loaded_at = self._clock()

    async def prepare(self, session: AsyncSession, cdrs: Iterable[CallEnded]) -> None:
        """Load what rating ``cdrs`` needs that the cache lacks (a few queries in all)."""
        self._expire()
        cards: set[uuid.UUID] = set()
        buys: list[tuple[uuid.UUID, str, datetime]] = []
        for cdr in cdrs:
            if cdr.sell_card_id is not None:
                cards.add(cdr.sell_card_id)
            attempt = carrier_attempt(cdr)
            if attempt is not None and attempt.buy_card_id is not None:
                cards.add(attempt.buy_card_id)
                if attempt.answered_at is not None and attempt.buy_prefix is not None:
                    buys.append((attempt.buy_card_id, attempt.buy_prefix, attempt.started_at))
        await self._load_terms(session, cards - self._terms.keys())
        await self._load_revisions(session, {card for card, _, _ in buys} - self._revisions.keys())
        wanted: set[tuple[uuid.UUID, str]] = set()
        for card, prefix, at in buys:
            revision = revision_at(self._revisions.get(card, []), at)
            if revision is not None and (revision, prefix) not in self._rates:
                wanted.add((revision, prefix))
        await self._load_rates(session, wanted)

    def terms(self, card_id: uuid.UUID | None) -> CardTerms | None:
        return None if card_id is None else self._terms.get(card_id)

    def buy_rate(self, cdr: CallEnded) -> BuyRate | None:
        """The buy rate row of ``cdr``'s answered attempt (``None``: card defaults apply)."""
        attempt = carrier_attempt(cdr)
        if attempt is None or attempt.buy_card_id is None or attempt.buy_prefix is None:
            return None
        revision = revision_at(self._revisions.get(attempt.buy_card_id, []), attempt.started_at)
        if revision is None:
            return None
        return self._rates.get((revision, attempt.buy_prefix))

    async def _load_terms(self, session: AsyncSession, ids: set[uuid.UUID]) -> None:
        if not ids:
            return
        rows = await session.execute(
            select(
                RateCard.id,
                RateCard.currency,
                RateCard.precision,
                RateCard.rounding,
                RateCard.default_initial,
                RateCard.default_subsequent,
            ).where(RateCard.id.in_(ids))
        )
        for row in rows:
            self._terms[row.id] = CardTerms(*row)
        for missing in ids - self._terms.keys():
            self._terms[missing] = None

    async def _load_revisions(self, session: AsyncSession, ids: set[uuid.UUID]) -> None:
        if not ids:
            return
        rows = await session.execute(
            select(
                RateCardRevision.rate_card_id,
                RateCardRevision.effective_from,
                RateCardRevision.id,
            )
            .where(
                RateCardRevision.rate_card_id.in_(ids),
                RateCardRevision.effective_from.is_not(None),
            )
            .order_by(RateCardRevision.effective_from)
        )
        for card in ids:
            self._revisions[card] = []
        for card, effective_from, revision in rows:
            if effective_from is not None:
                self._revisions[card].append((effective_from, revision))

    async def _load_rates(self, session: AsyncSession, keys: set[tuple[uuid.UUID, str]]) -> None:
        if not keys:
            return
        rows = await session.execute(
            select(
                Rate.revision_id,
                Rate.prefix,
                Rate.rate,
                Rate.connection_fee,
                Rate.initial_increment,
                Rate.subsequent_increment,
            ).where(tuple_(Rate.revision_id, Rate.prefix).in_(list(keys)))
        )
        for revision, prefix, rate, fee, initial, subsequent in rows:
            self._rates[(revision, prefix)] = BuyRate(rate, fee, initial, subsequent)
        for key in keys - self._rates.keys():
            self._rates[key] = None
