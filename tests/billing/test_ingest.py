"""Storing and charging CDRs in one transaction, exactly once, on both databases."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from libs.billing.cards import CardBook
from libs.billing.ingest import ingest
from libs.billing.ledger import balance_configs
from libs.db import Database
from libs.db.models import Cdr, DailySpend, LedgerEntry, LedgerKind, RateCardDirection
from tests.billing import factories
from tests.billing.factories import T0, cdr


async def _ingest(database: Database, cdrs: list, book: CardBook | None = None):  # type: ignore[no-untyped-def, type-arg]
    async with database.session() as session:
        result = await ingest(session, cdrs, book or CardBook(), now=T0 + timedelta(minutes=5))
        await session.commit()
    return result


async def test_a_batch_is_rated_stored_and_charged(database: Database) -> None:
    alice = await factories.customer(database, balance=Decimal("10"))
    bob = await factories.customer(database, balance=Decimal("0"))
    card, _ = await factories.card(database, precision=4, rounding="half_up")
    calls = [
        cdr(customer_id=alice, seconds=20, rate="0.06", increments=(30, 6), card_id=card),
        cdr(
            customer_id=alice, seconds=31, rate="0.06", increments=(30, 6), fee="0.01", card_id=card
        ),
        cdr(customer_id=bob, seconds=61, rate="0.60", increments=(60, 60), card_id=card),
        cdr(customer_id=bob, seconds=None, card_id=card),  # unanswered: stored, not charged
    ]
    result = await _ingest(database, calls)
    assert sorted(result.stored) == sorted(c.call_id for c in calls)
    assert await factories.balance(database, alice) == Decimal("10") - Decimal("0.0300") - Decimal(
        "0.0460"
    )
    assert await factories.balance(database, bob) == Decimal("-1.2")

    async with database.session() as session:
        entries = (
            await session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.customer_id == alice)
                .order_by(LedgerEntry.balance_after.desc())
            )
        ).all()
        assert [e.kind for e in entries] == [LedgerKind.CALL_CHARGE] * 2
        assert [e.amount for e in entries] == [Decimal("-0.03"), Decimal("-0.046")]
        assert [e.balance_after for e in entries] == [Decimal("9.97"), Decimal("9.924")]
        assert {e.call_id for e in entries} == {calls[0].call_id, calls[1].call_id}
        spend = await session.get(DailySpend, (bob, T0.date()))
        assert spend is not None
        assert spend.amount == Decimal("1.2")
        stored = await session.scalar(select(Cdr).where(Cdr.call_id == calls[1].call_id))
        assert stored is not None
        assert (stored.billed_seconds, stored.charge) == (36, Decimal("0.046"))
        configs = await balance_configs(session, result.balances.values(), today=T0.date())
    by_id = {c.id: c for c in configs}
    assert by_id[bob].balance == "-1.2"
    assert by_id[bob].spent_today == "1.2"
    assert by_id[alice].version == 2  # one balance change since creation


async def test_duplicates_and_redeliveries_charge_once(database: Database) -> None:
    alice = await factories.customer(database, balance=Decimal("10"))
    call = cdr(customer_id=alice, seconds=60, rate="1")
    first = await _ingest(database, [call, call])  # twice in one batch
    again = await _ingest(database, [call])  # redelivered later
    assert first.stored == [call.call_id]
    assert again.stored == []
    assert again.duplicates == 1
    assert again.balances == {}
    assert await factories.balance(database, alice) == Decimal("9")
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Cdr)) == 1
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


async def test_concurrent_batches_with_the_same_cdrs_charge_once(database: Database) -> None:
    alice = await factories.customer(database, balance=Decimal("100"))
    calls = [cdr(customer_id=alice, seconds=60, rate="1") for _ in range(20)]
    await asyncio.gather(_ingest(database, calls), _ingest(database, list(reversed(calls))))
    assert await factories.balance(database, alice) == Decimal("80")
    async with database.session() as session:
        total = await session.scalar(select(func.sum(LedgerEntry.amount)))
        assert total == Decimal("-20")


async def test_the_buy_rate_comes_from_the_card_revision_in_effect(database: Database) -> None:
    alice = await factories.customer(database)
    buy, _ = await factories.card(
        database,
        direction=RateCardDirection.BUY,
        precision=5,
        rates={"49": ("0.03", "0.002", 6, 6)},
    )
    # A newer revision from after the call must not apply to it.
    call = cdr(
        customer_id=alice,
        seconds=20,
        carrier_id=alice,  # any id: carriers are not foreign keys of CDRs
        buy_card_id=buy,
        buy_rate="0.03",
    )
    await _ingest(database, [call])
    async with database.session() as session:
        stored = await session.scalar(select(Cdr).where(Cdr.call_id == call.call_id))
    assert stored is not None
    assert stored.cost_seconds == 24
    assert stored.cost == Decimal("0.012") + Decimal("0.002")
    assert stored.cost_currency == "EUR"
    assert stored.ended_at.tzinfo is not None
    assert stored.ended_at.utcoffset() == UTC.utcoffset(None)


async def test_a_rate_finer_than_the_column_is_refused_not_rounded(database: Database) -> None:
    # PostgreSQL's NUMERIC would round it silently; the bulk insert checks like the column type.
    alice = await factories.customer(database, balance=Decimal("10"))
    call = cdr(customer_id=alice, seconds=60, rate="0.0123456789")
    with pytest.raises((ValueError, StatementError), match="decimal places"):
        await _ingest(database, [call])
    assert await factories.balance(database, alice) == Decimal("10")


async def test_the_stored_cdr_keeps_attempts_media_and_times(database: Database) -> None:
    alice = await factories.customer(database, balance=Decimal("10"))
    carrier = uuid.uuid4()
    call = cdr(customer_id=alice, seconds=42.5, carrier_id=carrier, buy_rate="0.01")
    await _ingest(database, [call])
    async with database.session() as session:
        stored = await session.scalar(select(Cdr).where(Cdr.call_id == call.call_id))
    assert stored is not None
    assert stored.carrier_id == carrier
    assert stored.attempts == [a.model_dump(mode="json") for a in call.attempts]
    assert stored.started_at == call.started_at
    assert stored.ended_at == call.ended_at
    assert stored.ended_at.tzinfo is not None
    assert (stored.duration_ms, stored.billed_seconds) == (42500, 60)
    assert stored.rerated_at is None
