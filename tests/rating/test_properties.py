"""Property tests (hypothesis): billing never undercharges, prices grow with duration, and the
duration cap is exactly the longest affordable call."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.rating import (
    BillingIncrements,
    Rate,
    Rounding,
    billable_seconds,
    max_duration_for_balance,
    price,
)

increments = st.builds(
    BillingIncrements,
    st.sampled_from([0, 1, 6, 30, 60]) | st.integers(0, 300),
    st.sampled_from([1, 6, 60]) | st.integers(1, 120),
)
amounts = st.decimals(min_value=0, max_value=5, places=6, allow_nan=False, allow_infinity=False)
rates = st.builds(
    Rate,
    st.just("44"),
    st.just("UK"),
    amounts,
    amounts | st.just(Decimal(0)),
    increments,
)
roundings = st.sampled_from(list(Rounding))
precisions = st.integers(0, 6)
durations = st.integers(0, 100_000)
exact_durations = st.decimals(min_value=0, max_value=10_000, places=3)
# No per-example deadline: CI shares its machine, and a GC pause is not a failure.
relaxed = settings(deadline=None)


@relaxed
@given(exact_durations, increments)
def test_billable_is_never_less_than_actual(duration: Decimal, scheme: BillingIncrements) -> None:
    assert billable_seconds(duration, scheme) >= duration


@relaxed
@given(durations, increments)
def test_billable_lands_on_a_block_boundary(duration: int, scheme: BillingIncrements) -> None:
    billable = billable_seconds(duration, scheme)
    if duration == 0:
        assert billable == 0
    else:
        assert billable >= max(scheme.initial, 1)
        assert (billable - scheme.initial) % scheme.subsequent == 0 or billable == scheme.initial
        assert billable - duration < max(scheme.initial, scheme.subsequent)


@relaxed
@given(durations, durations, rates, precisions, roundings)
def test_price_is_monotonic_in_duration(
    first: int, second: int, rate: Rate, precision: int, rounding: Rounding
) -> None:
    shorter, longer = sorted((first, second))
    cheap = price(shorter, rate, precision=precision, rounding=rounding)
    dear = price(longer, rate, precision=precision, rounding=rounding)
    assert cheap.total <= dear.total
    assert cheap.billable_seconds <= dear.billable_seconds


@relaxed
@given(durations, rates, precisions, roundings)
def test_total_is_amount_plus_fee_at_the_cards_precision(
    duration: int, rate: Rate, precision: int, rounding: Rounding
) -> None:
    charge = price(duration, rate, precision=precision, rounding=rounding)
    assert charge.total == charge.amount + charge.connection_fee
    assert charge.total.as_tuple().exponent == -precision
    if duration == 0:
        assert charge.total == 0


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value=-1, max_value=500, places=4, allow_nan=False, allow_infinity=False),
    rates,
    precisions,
    roundings,
)
def test_max_duration_is_the_longest_affordable_call(
    available: Decimal, rate: Rate, precision: int, rounding: Rounding
) -> None:
    limit = max_duration_for_balance(available, rate, precision=precision, rounding=rounding)
    if limit is None:
        assert rate.per_minute == 0
        assert price(10**9, rate, precision=precision, rounding=rounding).total <= available
        return
    assert limit >= 0
    if limit > 0:
        assert price(limit, rate, precision=precision, rounding=rounding).total <= available
    assert price(limit + 1, rate, precision=precision, rounding=rounding).total > available
