"""Prices and duration caps: known answers per rounding mode, fees, validation."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from libs.rating import (
    BillingIncrements,
    Charge,
    InvalidAmount,
    InvalidDuration,
    Rate,
    Rounding,
    UnknownRounding,
    max_duration_for_balance,
    price,
)

D = Decimal


def rate(
    per_minute: str = "0.0120",
    fee: str = "0",
    increments: BillingIncrements = BillingIncrements(60, 60),
    *,
    blocked: bool = False,
) -> Rate:
    return Rate("44", "United Kingdom", D(per_minute), D(fee), increments, blocked)


def test_issue_example_30_6_with_connection_fee() -> None:
    card_rate = rate("0.0120", "0.0500", BillingIncrements(30, 6))
    assert price(20, card_rate, precision=4, rounding="half_up") == Charge(
        30, D("0.0060"), D("0.0500"), D("0.0560")
    )
    assert price(31, card_rate, precision=4, rounding="half_up") == Charge(
        36, D("0.0072"), D("0.0500"), D("0.0572")
    )


def test_unanswered_calls_cost_nothing_not_even_the_fee() -> None:
    card_rate = rate("0.0120", "0.0500", BillingIncrements(30, 6))
    charge = price(0, card_rate, precision=4, rounding="half_up")
    assert charge == Charge(0, D("0.0000"), D("0.0000"), D("0.0000"))


def test_answered_zero_second_call_pays_the_fee_only() -> None:
    card_rate = rate("0.0120", "0.0500", BillingIncrements(30, 6))
    charge = price(0, card_rate, precision=4, rounding="half_up", answered=True)
    assert charge.total == D("0.0500")
    assert charge.billable_seconds == 0


def test_a_duration_on_an_unanswered_call_is_a_contradiction() -> None:
    with pytest.raises(InvalidDuration):
        price(10, rate(), precision=4, rounding="half_up", answered=False)


@pytest.mark.parametrize(
    ("increments", "seconds", "amount"),
    [
        (BillingIncrements(60, 60), 61, D("0.0240")),
        (BillingIncrements(6, 6), 7, D("0.0024")),
        (BillingIncrements(1, 1), 7, D("0.0014")),
        (BillingIncrements(0, 1), 7, D("0.0014")),
    ],
)
def test_increments_drive_the_amount(
    increments: BillingIncrements, seconds: int, amount: Decimal
) -> None:
    assert (
        price(seconds, rate("0.0120", increments=increments), precision=4, rounding="up").amount
        == amount
    )


# 0.0125/min for 1 s under 1/1 is 0.000208333…; for 6 s it is exactly 0.00125 (a tie at 4 places).
@pytest.mark.parametrize(
    ("rounding", "one_second", "tie_odd", "tie_even"),
    [
        (Rounding.HALF_UP, D("0.0002"), D("0.0013"), D("0.0014")),
        (Rounding.HALF_DOWN, D("0.0002"), D("0.0012"), D("0.0013")),
        (Rounding.HALF_EVEN, D("0.0002"), D("0.0012"), D("0.0014")),
        (Rounding.UP, D("0.0003"), D("0.0013"), D("0.0014")),
        (Rounding.DOWN, D("0.0002"), D("0.0012"), D("0.0013")),
    ],
)
def test_rounding_modes(
    rounding: Rounding, one_second: Decimal, tie_odd: Decimal, tie_even: Decimal
) -> None:
    per_second = rate("0.0125", increments=BillingIncrements(1, 1))
    assert price(1, per_second, precision=4, rounding=rounding).amount == one_second
    # 6 s at 0.0125/min = 0.00125 exactly: the tie rounds toward 0.0012 or 0.0013
    assert price(6, per_second, precision=4, rounding=rounding).amount == tie_odd
    # 0.0135/min for 6 s = 0.00135: a tie between 0.0013 and 0.0014
    odd = rate("0.0135", increments=BillingIncrements(1, 1))
    assert price(6, odd, precision=4, rounding=rounding).amount == tie_even


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("half_up", Rounding.HALF_UP),
        ("HALF-UP", Rounding.HALF_UP),
        ("nearest", Rounding.HALF_UP),
        ("half_down", Rounding.HALF_DOWN),
        ("half_even", Rounding.HALF_EVEN),
        ("bankers", Rounding.HALF_EVEN),
        ("up", Rounding.UP),
        ("ceiling", Rounding.UP),
        ("down", Rounding.DOWN),
        ("floor", Rounding.DOWN),
        ("truncate", Rounding.DOWN),
    ],
)
def test_rounding_names(name: str, mode: Rounding) -> None:
    assert Rounding.parse(name) is mode


@pytest.mark.parametrize("name", ["", "round", "halfup", 3])
def test_unknown_rounding_names_are_refused(name: object) -> None:
    with pytest.raises(UnknownRounding):
        Rounding.parse(name)  # type: ignore[arg-type]


def test_precision_applies_to_amount_and_fee() -> None:
    card_rate = rate("0.0125", "0.012345", BillingIncrements(1, 1))
    charge = price(1, card_rate, precision=2, rounding="up")
    assert charge == Charge(1, D("0.01"), D("0.02"), D("0.03"))
    assert price(1, card_rate, precision=0, rounding="up").total == D("2")


def test_the_callers_decimal_context_does_not_change_a_price() -> None:
    card_rate = rate("0.0123456789", increments=BillingIncrements(1, 1))
    expected = price(7, card_rate, precision=6, rounding="half_even")
    with localcontext() as context:
        context.prec = 3
        context.rounding = "ROUND_DOWN"
        assert price(7, card_rate, precision=6, rounding="half_even") == expected


@pytest.mark.parametrize("precision", [-1, 13, 2.0, None])
def test_bad_precision_is_refused(precision: object) -> None:
    with pytest.raises(InvalidAmount):
        price(1, rate(), precision=precision, rounding="up")  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [0.012, D("-0.01"), D("NaN"), D("Infinity"), "0.01", None])
def test_rates_refuse_floats_and_nonsense(amount: object) -> None:
    with pytest.raises(InvalidAmount):
        Rate("44", "UK", amount)  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Rate("44", "UK", D("0.01"), amount)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["+44", "44 ", "४४", 44])
def test_rates_refuse_non_digit_prefixes(prefix: object) -> None:
    with pytest.raises(InvalidAmount):
        Rate(prefix, "UK", D("0.01"))  # type: ignore[arg-type]


def test_integer_amounts_become_decimals() -> None:
    assert Rate("44", "UK", 1, 0).per_minute == D(1)  # type: ignore[arg-type]
    assert isinstance(Rate("44", "UK", 1, 0).connection_fee, Decimal)  # type: ignore[arg-type]


# -- max_duration_for_balance ---------------------------------------------------------------


def test_max_duration_known_answer_30_6_with_fee() -> None:
    card_rate = rate("0.0120", "0.0500", BillingIncrements(30, 6))
    # 1.00 - 0.05 fee = 0.95 → 0.95 / 0.012 x 60 = 4750 s → the last whole 6 s block: 4746 s
    limit = max_duration_for_balance(D("1.00"), card_rate, precision=4, rounding="half_up")
    assert limit == 4746
    assert price(4746, card_rate, precision=4, rounding="half_up").total == D("0.9992")
    assert price(4747, card_rate, precision=4, rounding="half_up").total == D("1.0004")


def test_max_duration_known_answer_60_60() -> None:
    card_rate = rate("0.10")  # 0.10 per started minute
    assert max_duration_for_balance(D("0.35"), card_rate, precision=2, rounding="up") == 180


def test_max_duration_is_unlimited_for_a_free_rate() -> None:
    assert max_duration_for_balance(D("0"), rate("0"), precision=4, rounding="up") is None
    free_with_fee = rate("0", "0.05")
    assert max_duration_for_balance(D("1"), free_with_fee, precision=4, rounding="up") is None
    assert max_duration_for_balance(D("0.01"), free_with_fee, precision=4, rounding="up") == 0


@pytest.mark.parametrize("available", [D("0"), D("-5"), D("0.0059"), 0])
def test_max_duration_is_zero_when_even_the_first_block_is_unaffordable(
    available: Decimal,
) -> None:
    card_rate = rate("0.0120", increments=BillingIncrements(30, 6))  # first block: 0.0060
    assert max_duration_for_balance(available, card_rate, precision=4, rounding="up") == 0


def test_max_duration_of_a_blocked_rate_is_zero() -> None:
    card_rate = rate("0.01", blocked=True)
    assert max_duration_for_balance(D("100"), card_rate, precision=4, rounding="up") == 0


def test_max_duration_with_a_huge_balance_and_a_tiny_rate() -> None:
    card_rate = rate("0.000001", increments=BillingIncrements(1, 1))
    limit = max_duration_for_balance(D("1000000"), card_rate, precision=2, rounding="down")
    assert limit is not None
    assert price(limit, card_rate, precision=2, rounding="down").total <= D("1000000")
    assert price(limit + 1, card_rate, precision=2, rounding="down").total > D("1000000")


@pytest.mark.parametrize("available", [1.5, "1", None, D("NaN")])
def test_max_duration_refuses_non_decimal_balances(available: object) -> None:
    with pytest.raises(InvalidAmount):
        max_duration_for_balance(available, rate(), precision=4, rounding="up")  # type: ignore[arg-type]
