"""Rating rules: increments, connection fees, precision and rounding (pure, no database)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from libs.billing.rating import BuyRate, CardTerms, rate_call
from tests.billing.factories import cdr

CUSTOMER = uuid.uuid4()
CARD = CardTerms(uuid.uuid4(), "EUR", precision=4, rounding="half_up")


@pytest.mark.parametrize(
    ("increments", "seconds", "billed"),
    [
        ((60, 60), 1, 60),
        ((60, 60), 60, 60),
        ((60, 60), 61, 120),
        ((30, 6), 20, 30),
        ((30, 6), 30, 30),
        ((30, 6), 31, 36),
        ((30, 6), 36.001, 42),
        ((6, 6), 7, 12),
        ((1, 1), 20.2, 21),
        ((0, 1), 0.5, 1),
    ],
)
def test_each_increment_scheme_bills_the_right_seconds(
    increments: tuple[int, int], seconds: float, billed: int
) -> None:
    call = cdr(customer_id=CUSTOMER, seconds=seconds, rate="0.60", increments=increments)
    rated = rate_call(call, sell_card=CARD, buy_card=None, buy_rate=None)
    assert rated.row["billed_seconds"] == billed
    # 0.60 a minute is 0.01 a second: the charge shows the billed seconds exactly.
    assert rated.charge == Decimal(billed) / 100


def test_the_connection_fee_is_charged_on_answered_calls_only() -> None:
    answered = cdr(customer_id=CUSTOMER, seconds=31, rate="0.06", fee="0.05", increments=(30, 6))
    rated = rate_call(answered, sell_card=CARD, buy_card=None, buy_rate=None)
    assert rated.charge == Decimal("0.0360") + Decimal("0.05")

    unanswered = cdr(customer_id=CUSTOMER, seconds=None, fee="0.05")
    rated = rate_call(unanswered, sell_card=CARD, buy_card=None, buy_rate=None)
    assert rated.charge == 0
    assert rated.row["billed_seconds"] == 0
    assert rated.row["duration_ms"] == 0


@pytest.mark.parametrize(
    ("precision", "rounding", "expected"),
    [
        (4, "half_up", "0.0117"),  # 0.0116666…
        (4, "down", "0.0116"),
        (2, "up", "0.02"),
        (2, "half_even", "0.01"),
        (6, "half_up", "0.011667"),
        (9, "half_up", "0.011667"),  # capped at the balance's 6 places
    ],
)
def test_card_precision_and_rounding_apply(precision: int, rounding: str, expected: str) -> None:
    card = CardTerms(uuid.uuid4(), "EUR", precision=precision, rounding=rounding)
    call = cdr(customer_id=CUSTOMER, seconds=1000, rate="0.0007", increments=(1, 1))
    rated = rate_call(call, sell_card=card, buy_card=None, buy_rate=None)
    assert rated.charge == Decimal(expected)


def test_the_card_defaults_apply_when_the_cdr_has_no_increments() -> None:
    card = CardTerms(uuid.uuid4(), "EUR", 4, "half_up", default_initial=30, default_subsequent=6)
    call = cdr(customer_id=CUSTOMER, seconds=31, rate="0.60", increments=None)
    assert rate_call(call, sell_card=card, buy_card=None, buy_rate=None).row["billed_seconds"] == 36


def test_the_cost_uses_the_answered_attempts_buy_rate_its_increments_and_fee() -> None:
    carrier = uuid.uuid4()
    call = cdr(
        customer_id=CUSTOMER,
        seconds=20,
        rate="0.06",
        carrier_id=carrier,
        buy_card_id=uuid.uuid4(),
        buy_rate="0.03",
    )
    buy = CardTerms(uuid.uuid4(), "USD", precision=5, rounding="up")
    rated = rate_call(
        call,
        sell_card=CARD,
        buy_card=buy,
        buy_rate=BuyRate(Decimal("0.03"), Decimal("0.001"), 6, 6),
    )
    assert rated.row["cost_seconds"] == 24
    assert rated.cost == Decimal("0.012") + Decimal("0.001")
    assert rated.row["carrier_id"] == carrier
    assert rated.row["cost_currency"] == "USD"
    assert rated.charge == Decimal("0.06")  # 60/60 on the sell side


def test_a_call_without_customer_or_rate_is_stored_uncharged() -> None:
    assert rate_call(cdr(seconds=30), sell_card=CARD, buy_card=None, buy_rate=None).charge == 0
    no_rate = cdr(customer_id=CUSTOMER, seconds=30, rate=None)
    assert rate_call(no_rate, sell_card=CARD, buy_card=None, buy_rate=None).charge == 0
