"""Billing increments: known answers for every common scheme, sub-second rules, validation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from libs.rating import (
    BillingIncrements,
    InvalidDuration,
    InvalidIncrements,
    billable_seconds,
    from_milliseconds,
    whole_seconds,
)

S30_6 = BillingIncrements(30, 6)
S60_60 = BillingIncrements(60, 60)
S6_6 = BillingIncrements(6, 6)
S1_1 = BillingIncrements(1, 1)
S0_1 = BillingIncrements(0, 1)
S0_6 = BillingIncrements(0, 6)


@pytest.mark.parametrize(
    ("increments", "duration", "billable"),
    [
        # 30/6: the issue's own examples, and the block edges
        (S30_6, 20, 30),
        (S30_6, 31, 36),
        (S30_6, 1, 30),
        (S30_6, 30, 30),
        (S30_6, 36, 36),
        (S30_6, 37, 42),
        (S30_6, 0, 0),
        # 60/60: per started minute
        (S60_60, 1, 60),
        (S60_60, 60, 60),
        (S60_60, 61, 120),
        (S60_60, 3599, 3600),
        (S60_60, 0, 0),
        # 6/6
        (S6_6, 1, 6),
        (S6_6, 6, 6),
        (S6_6, 7, 12),
        (S6_6, 59, 60),
        # 1/1 and 0/1: per second
        (S1_1, 1, 1),
        (S1_1, 59, 59),
        (S1_1, 0, 0),
        (S0_1, 1, 1),
        (S0_1, 2, 2),
        (S0_1, 0, 0),
        # 0/6: no minimum, 6-second blocks from the first second
        (S0_6, 1, 6),
        (S0_6, 7, 12),
    ],
)
def test_known_answers(increments: BillingIncrements, duration: int, billable: int) -> None:
    assert billable_seconds(duration, increments) == billable


@pytest.mark.parametrize(
    ("duration", "increments", "billable"),
    [
        (Decimal("20.001"), S1_1, 21),  # any started second is a second
        (Decimal("0.001"), S1_1, 1),
        (Decimal("0.001"), S30_6, 30),
        (Decimal("30.0"), S30_6, 30),
        (Decimal("30.5"), S30_6, 36),  # 31 whole seconds → the next block
        (Decimal("0"), S30_6, 0),
        (from_milliseconds(36_001), S30_6, 42),
        (from_milliseconds(36_000), S30_6, 36),
    ],
)
def test_sub_second_durations_round_up_before_increments(
    duration: Decimal, increments: BillingIncrements, billable: int
) -> None:
    assert billable_seconds(duration, increments) == billable


def test_milliseconds_are_exact() -> None:
    assert from_milliseconds(1500) == Decimal("1.5")
    assert from_milliseconds(1) == Decimal("0.001")
    assert whole_seconds(from_milliseconds(1)) == 1
    assert whole_seconds(from_milliseconds(0)) == 0


@pytest.mark.parametrize("duration", [-1, Decimal("-0.5"), Decimal("NaN"), Decimal("Infinity")])
def test_impossible_durations_are_refused(duration: int | Decimal) -> None:
    with pytest.raises(InvalidDuration):
        billable_seconds(duration, S30_6)


@pytest.mark.parametrize("duration", [20.5, "20", True, None])
def test_floats_and_other_types_are_refused(duration: object) -> None:
    with pytest.raises(InvalidDuration):
        billable_seconds(duration, S30_6)  # type: ignore[arg-type]


@pytest.mark.parametrize("milliseconds", [-1, 1.5, "10"])
def test_bad_milliseconds_are_refused(milliseconds: object) -> None:
    with pytest.raises(InvalidDuration):
        from_milliseconds(milliseconds)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("initial", "subsequent"), [(-1, 6), (30, 0), (30, -6), (30.0, 6), (30, True)]
)
def test_invalid_increments_are_refused(initial: object, subsequent: object) -> None:
    with pytest.raises(InvalidIncrements):
        BillingIncrements(initial, subsequent)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30/6", S30_6), ("60/60", S60_60), (" 0/1 ", S0_1), ("30+6", S30_6), ("1-1", S1_1)],
)
def test_increments_parse_and_print(text: str, expected: BillingIncrements) -> None:
    assert BillingIncrements.parse(text) == expected
    assert BillingIncrements.parse(str(expected)) == expected


@pytest.mark.parametrize("text", ["30", "30/", "/6", "a/b", "30/6/2", "-1/6", ""])
def test_malformed_increments_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidIncrements):
        BillingIncrements.parse(text)
