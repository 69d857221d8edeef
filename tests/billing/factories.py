"""Small factories for billing tests: CDRs, customers and cards written straight to the DB."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from libs.bus.cdr import CallEnded, ReleasedBy, ReleaseReason
from libs.db import Database
from libs.db.models import (
    Customer,
    Rate,
    RateCard,
    RateCardDirection,
    RateCardRevision,
)

T0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


def cdr(
    *,
    customer_id: uuid.UUID | None = None,
    seconds: float | None = 20,
    rate: str | None = "0.06",
    fee: str | None = None,
    increments: tuple[int, int] | None = (60, 60),
    card_id: uuid.UUID | None = None,
    started_at: datetime = T0,
    carrier_id: uuid.UUID | None = None,
    buy_card_id: uuid.UUID | None = None,
    buy_rate: str | None = None,
    buy_prefix: str | None = "49",
    **overrides: Any,
) -> CallEnded:
    """A CDR of a call answered after 2 s that lasted ``seconds`` (``None``: unanswered)."""
    answered_at = started_at + timedelta(seconds=2) if seconds is not None else None
    duration_ms = round(seconds * 1000) if seconds is not None else 0
    ended_at = (answered_at or started_at) + timedelta(milliseconds=duration_ms or 500)
    attempts: list[dict[str, Any]] = []
    if carrier_id is not None:
        attempts.append(
            {
                "carrier_id": carrier_id,
                "gateway": "127.0.0.1:5080",
                "started_at": started_at,
                "pdd_ms": 800,
                "answered_at": answered_at,
                "ended_at": ended_at,
                "sip_code": 200 if answered_at else 486,
                "buy_card_id": buy_card_id,
                "buy_prefix": buy_prefix,
                "buy_rate": Decimal(buy_rate) if buy_rate is not None else None,
                "number_sent": "4930123456",
            }
        )
    fields: dict[str, Any] = {
        "call_id": uuid.uuid4().hex,
        "sip_call_id": f"{uuid.uuid4().hex}@pbx",
        "node_id": "sip-1",
        "zone": "eu",
        "source_address": "127.0.0.2:5060",
        "customer_id": customer_id,
        "caller_received": "4420700000",
        "callee_received": "4930123456",
        "caller_sent": "4420700000",
        "callee_sent": "4930123456",
        "sell_card_id": card_id,
        "sell_prefix": "49",
        "destination": "Germany",
        "sell_rate": Decimal(rate) if rate is not None else None,
        "connection_fee": Decimal(fee) if fee is not None else None,
        "initial_increment": increments[0] if increments else None,
        "subsequent_increment": increments[1] if increments else None,
        "currency": "EUR",
        "started_at": started_at,
        "answered_at": answered_at,
        "ended_at": ended_at,
        "duration_ms": duration_ms,
        "sip_code": 200 if answered_at else 486,
        "release_reason": ReleaseReason.NORMAL if answered_at else ReleaseReason.REJECTED,
        "released_by": ReleasedBy.CALLER,
        "attempts": attempts,
    }
    return CallEnded.model_validate({**fields, **overrides})


async def customer(database: Database, **fields: Any) -> uuid.UUID:
    values: dict[str, Any] = {
        "name": f"Customer {uuid.uuid4().hex[:8]}",
        "currency": "EUR",
        "balance": Decimal("100"),
        **fields,
    }
    async with database.session() as session:
        row = Customer(**values)
        session.add(row)
        await session.commit()
        return row.id


async def balance(database: Database, customer_id: uuid.UUID) -> Decimal:
    async with database.session() as session:
        row = await session.get(Customer, customer_id)
        assert row is not None
        return row.balance


async def card(
    database: Database,
    *,
    direction: RateCardDirection = RateCardDirection.SELL,
    precision: int = 4,
    rounding: str = "half_up",
    rates: dict[str, tuple[str, str, int, int]] | None = None,
    effective_from: datetime = T0 - timedelta(days=30),
) -> tuple[uuid.UUID, uuid.UUID]:
    """A card with one revision in effect; ``rates``: prefix → (rate, fee, initial, subsequent)."""
    async with database.session() as session:
        row = RateCard(
            name=f"Card {uuid.uuid4().hex[:8]}",
            direction=direction,
            currency="EUR",
            precision=precision,
            rounding=rounding,
        )
        session.add(row)
        await session.flush()
        revision = RateCardRevision(rate_card_id=row.id, effective_from=effective_from)
        session.add(revision)
        await session.flush()
        for prefix, (rate, fee, initial, subsequent) in (rates or {}).items():
            session.add(
                Rate(
                    revision_id=revision.id,
                    prefix=prefix,
                    destination=f"Destination {prefix}",
                    rate=Decimal(rate),
                    connection_fee=Decimal(fee),
                    initial_increment=initial,
                    subsequent_increment=subsequent,
                )
            )
        await session.commit()
        return row.id, revision.id
