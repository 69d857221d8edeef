"""Re-rating: after a rate fix, recompute the charges of a time range's calls.

Each answered call is priced again on its sell card's revision **in effect when the call
started** (the longest prefix of the dialled number in that revision), with the card's
precision and rounding. Where the charge changes, the CDR is updated and a ``rerate`` ledger
entry moves the balance by the difference (and the call's day's spend with it). Running it
again finds nothing to change: re-rating is idempotent. Work goes in chunks, one transaction
each, the chunk's CDRs locked (``FOR UPDATE`` on PostgreSQL) so two re-rates never apply one
difference twice, nor race the billing worker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.billing.cards import Revisions, revision_at
from libs.billing.cdrs import CdrFilters, CdrRepository
from libs.billing.ledger import BalanceState, Posting, balance_configs, post
from libs.billing.rating import CardTerms, rate_side
from libs.db import Database, utcnow
from libs.db.models import Cdr, LedgerKind, Rate, RateCard, RateCardRevision
from libs.db.pagination import keyset_page
from libs.liveconfig.models import BalanceConfig
from libs.rating import from_milliseconds

__all__ = ["RerateReport", "rerate"]

_CHUNK = 200


@dataclass
class RerateReport:
    examined: int = 0
    changed: int = 0
    #: The sum of the charges' changes (positive: customers pay more).
    difference: Decimal = Decimal(0)
    customers: set[uuid.UUID] = field(default_factory=set)


async def rerate(
    database: Database,
    filters: CdrFilters,
    *,
    author: str,
    now: datetime | None = None,
) -> tuple[RerateReport, list[BalanceConfig]]:
    """Re-rate the answered calls matching ``filters``; the report and the new balances."""
    now = now or utcnow()
    scope = CdrFilters(**{**_fields(filters), "answered": True})
    report = RerateReport()
    latest: dict[uuid.UUID, BalanceState] = {}
    cursor: str | None = None
    while True:
        async with database.session() as session:
            repository = CdrRepository(session)
            statement, to_page = keyset_page(
                repository.filtered(scope).where(Cdr.sell_card_id.is_not(None)),
                id_column=Cdr.id,
                sort_keys=repository.sort_keys,
                sort="started_at",
                cursor=cursor,
                limit=_CHUNK,
            )
            if session.get_bind().dialect.name == "postgresql":
                statement = statement.with_for_update()
            page = to_page((await session.scalars(statement)).all())  # type: ignore[arg-type]
            postings = await _reprice(session, list(page.items), report, author=author, now=now)
            states = await post(session, postings)
            await session.commit()
        latest.update(states)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    async with database.session() as session:
        configs = await balance_configs(session, latest.values(), today=now.astimezone(UTC).date())
    return report, configs


def _fields(filters: CdrFilters) -> dict[str, Any]:
    return {name: getattr(filters, name) for name in CdrFilters.__slots__}


async def _reprice(
    session: AsyncSession, cdrs: list[Cdr], report: RerateReport, *, author: str, now: datetime
) -> list[Posting]:
    if not cdrs:
        return []
    cards = {c.sell_card_id for c in cdrs if c.sell_card_id is not None}
    terms = {
        row.id: CardTerms(*row)
        for row in await session.execute(
            select(
                RateCard.id,
                RateCard.currency,
                RateCard.precision,
                RateCard.rounding,
                RateCard.default_initial,
                RateCard.default_subsequent,
            ).where(RateCard.id.in_(cards))
        )
    }
    revisions: dict[uuid.UUID, Revisions] = {card: [] for card in cards}
    for card, effective_from, revision_id in await session.execute(
        select(RateCardRevision.rate_card_id, RateCardRevision.effective_from, RateCardRevision.id)
        .where(
            RateCardRevision.rate_card_id.in_(cards), RateCardRevision.effective_from.is_not(None)
        )
        .order_by(RateCardRevision.effective_from)
    ):
        if effective_from is not None:
            revisions[card].append((effective_from, revision_id))
    wanted: dict[uuid.UUID, uuid.UUID | None] = {}
    prefixes: set[str] = set()
    for cdr in cdrs:
        assert cdr.sell_card_id is not None
        wanted[cdr.id] = revision_at(revisions[cdr.sell_card_id], cdr.started_at)
        number = _number(cdr)
        prefixes.update(number[:i] for i in range(1, min(len(number), 32) + 1))
    rates: dict[tuple[uuid.UUID, str], Rate] = {}
    revision_ids = {r for r in wanted.values() if r is not None}
    if revision_ids and prefixes:
        for row in await session.scalars(
            select(Rate).where(Rate.revision_id.in_(revision_ids), Rate.prefix.in_(prefixes))
        ):
            rates[(row.revision_id, row.prefix)] = row
    postings: list[Posting] = []
    for cdr in cdrs:
        report.examined += 1
        revision = wanted[cdr.id]
        if revision is None or cdr.customer_id is None:
            continue
        number = _number(cdr)
        rate = next(
            (
                rates[(revision, number[:i])]
                for i in range(min(len(number), 32), 0, -1)
                if (revision, number[:i]) in rates
            ),
            None,
        )
        if rate is None:
            continue
        billed, charge = rate_side(
            from_milliseconds(cdr.duration_ms),
            True,
            per_minute=rate.rate,
            connection_fee=rate.connection_fee,
            initial=rate.initial_increment,
            subsequent=rate.subsequent_increment,
            card=terms.get(cdr.sell_card_id) if cdr.sell_card_id else None,
        )
        difference = charge - cdr.charge
        if difference == 0:
            continue
        await session.execute(
            update(Cdr)
            .where(Cdr.id == cdr.id)
            .values(
                charge=charge,
                billed_seconds=billed,
                sell_rate=rate.rate,
                connection_fee=rate.connection_fee,
                initial_increment=rate.initial_increment,
                subsequent_increment=rate.subsequent_increment,
                sell_prefix=rate.prefix,
                destination=rate.destination,
                rerated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        report.changed += 1
        report.difference += difference
        report.customers.add(cdr.customer_id)
        postings.append(
            Posting(
                customer_id=cdr.customer_id,
                amount=-difference,
                kind=LedgerKind.RERATE,
                reference=cdr.call_id,
                author=author,
                note=f"re-rated from {cdr.charge} to {charge}",
                call_id=cdr.call_id,
                spend=difference,
                day=cdr.ended_at.astimezone(UTC).date(),
                created_at=now,
            )
        )
    return postings


def _number(cdr: Cdr) -> str:
    """The dialled number the sell prefix matched (as sent to carriers, else as received)."""
    if cdr.sell_prefix and cdr.callee_received.startswith(cdr.sell_prefix):
        return cdr.callee_received
    return cdr.callee_sent or cdr.callee_received
