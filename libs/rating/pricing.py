"""Rates, charges, and the longest call a balance pays for.

A call's charge has two parts, each rounded to the card's precision with the card's rounding:

* ``amount`` = rate per minute x billable seconds ÷ 60, computed exactly, then rounded once;
* ``connection_fee`` = the rate's connection fee, charged only when the call was answered.

``total`` is their sum (exact, as both are already rounded). Arithmetic runs in a private
:class:`decimal.Context` of 60 significant digits, so a caller's thread-local context (which
may have been changed) never alters a charge, and nothing is rounded before the final step.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

from libs.rating.errors import InvalidAmount, InvalidDuration
from libs.rating.increments import BillingIncrements, billable_seconds, whole_seconds
from libs.rating.rounding import Rounding

__all__ = [
    "MAX_PRECISION",
    "Charge",
    "Rate",
    "max_duration_for_balance",
    "price",
    "require_amount",
]

#: The most decimal places a card may round charges to.
MAX_PRECISION = 12

_CONTEXT = Context(
    prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
_SIXTY = Decimal(60)
_ZERO = Decimal(0)
_PER_MINUTE = BillingIncrements(60, 60)
_UNITS = tuple(Decimal(1).scaleb(-places) for places in range(MAX_PRECISION + 1))


def require_amount(value: object, what: str) -> Decimal:
    """``value`` as a finite, non-negative Decimal (an ``int`` is converted; floats refused)."""
    if isinstance(value, Decimal):
        amount = value
    elif type(value) is int:
        amount = Decimal(value)
    else:
        raise InvalidAmount(f"{what} must be a Decimal (never a float), not {value!r}")
    if not amount.is_finite() or amount < 0:
        raise InvalidAmount(f"{what} must be finite and >= 0, not {amount}")
    return amount


@dataclass(frozen=True, slots=True)
class Rate:
    """One row of a rate card: the price of calls to numbers starting with ``prefix``.

    ``per_minute`` and ``connection_fee`` are exact amounts in the card's currency; a
    ``blocked`` rate means calls to the prefix are refused (the price is kept for reference).
    """

    prefix: str
    destination: str
    per_minute: Decimal
    connection_fee: Decimal = _ZERO
    increments: BillingIncrements = _PER_MINUTE
    blocked: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not (
            self.prefix == "" or (self.prefix.isascii() and self.prefix.isdigit())
        ):
            raise InvalidAmount(f"a rate's prefix must be ASCII digits, not {self.prefix!r}")
        if not isinstance(self.destination, str):
            raise InvalidAmount(f"a destination is a name, not {self.destination!r}")
        # Loading a card builds a million of these: assign only when an int became a Decimal.
        per_minute = require_amount(self.per_minute, "per_minute")
        if per_minute is not self.per_minute:
            object.__setattr__(self, "per_minute", per_minute)
        connection_fee = require_amount(self.connection_fee, "connection_fee")
        if connection_fee is not self.connection_fee:
            object.__setattr__(self, "connection_fee", connection_fee)
        if not isinstance(self.increments, BillingIncrements):
            raise InvalidAmount(f"increments must be BillingIncrements, not {self.increments!r}")
        if type(self.blocked) is not bool:
            raise InvalidAmount(f"blocked must be a bool, not {self.blocked!r}")


@dataclass(frozen=True, slots=True)
class Charge:
    """What a call costs: its billable seconds and the rounded amounts."""

    billable_seconds: int
    #: The duration part: rate per minute x billable seconds ÷ 60, rounded.
    amount: Decimal
    #: The rate's connection fee if the call was answered, else zero; rounded.
    connection_fee: Decimal
    #: ``amount + connection_fee``.
    total: Decimal


def _unit(precision: int) -> Decimal:
    if type(precision) is not int or not 0 <= precision <= MAX_PRECISION:
        raise InvalidAmount(
            f"precision must be an int from 0 to {MAX_PRECISION}, not {precision!r}"
        )
    return _UNITS[precision]


def _duration_amount(per_minute: Decimal, seconds: int, unit: Decimal, mode: str) -> Decimal:
    exact = _CONTEXT.divide(_CONTEXT.multiply(per_minute, Decimal(seconds)), _SIXTY)
    return exact.quantize(unit, rounding=mode, context=_CONTEXT)


def price(
    call_seconds: int | Decimal,
    rate: Rate,
    *,
    precision: int,
    rounding: Rounding | str,
    answered: bool | None = None,
) -> Charge:
    """The charge for a call of ``call_seconds`` at ``rate``.

    ``precision`` is the number of decimal places charges are rounded to and ``rounding`` the
    card's mode (a :class:`Rounding` or one of its names). ``answered`` defaults to
    ``call_seconds > 0``; the connection fee is charged only on answered calls. A duration on
    an unanswered call is a contradiction and raises :class:`InvalidDuration`.
    """
    unit = _unit(precision)
    mode = Rounding.parse(rounding).decimal_mode
    seconds = whole_seconds(call_seconds)
    if answered is None:
        answered = seconds > 0
    elif not answered and seconds > 0:
        raise InvalidDuration(f"an unanswered call has no duration, got {call_seconds}")
    billable = billable_seconds(seconds, rate.increments)
    amount = _duration_amount(rate.per_minute, billable, unit, mode)
    fee = rate.connection_fee if answered else _ZERO
    fee = fee.quantize(unit, rounding=mode, context=_CONTEXT)
    return Charge(billable, amount, fee, _CONTEXT.add(amount, fee))


def max_duration_for_balance(
    available: Decimal, rate: Rate, *, precision: int, rounding: Rounding | str
) -> int | None:
    """The longest call, in whole seconds, whose :func:`price` is at most ``available``.

    ``None`` means unlimited: the rate per minute is zero and the connection fee is affordable.
    ``0`` means not even a one-second call is affordable (or the rate is blocked): the caller
    should refuse the call. Otherwise the result is an increment boundary ``b`` with
    ``price(b) <= available < price(b + 1)``; sip_core must end the call at ``b`` seconds
    exactly, as ``b`` plus any fraction of a second bills the next block.
    """
    available = _require_balance(available)
    unit = _unit(precision)
    mode = Rounding.parse(rounding).decimal_mode
    if rate.blocked:
        return 0
    fee = rate.connection_fee.quantize(unit, rounding=mode, context=_CONTEXT)
    budget = _CONTEXT.subtract(available, fee)
    if budget < 0:
        return 0
    if rate.per_minute == 0:
        return None
    initial, subsequent = rate.increments.initial, rate.increments.subsequent
    first = 0 if initial > 0 else 1  # block j bills initial + j x subsequent seconds

    def affordable(block: int) -> bool:
        seconds = initial + block * subsequent
        return _duration_amount(rate.per_minute, seconds, unit, mode) <= budget

    if not affordable(first):
        return 0
    # Rounding moves an amount by less than one unit of the last place, so the exact amount
    # bounds the answer: x <= budget - unit is always affordable, x > budget + unit never is.
    # Binary search between the two bounds (usually a handful of blocks apart).
    per_block = _CONTEXT.divide(_CONTEXT.multiply(rate.per_minute, Decimal(subsequent)), _SIXTY)
    base = _CONTEXT.divide(_CONTEXT.multiply(rate.per_minute, Decimal(initial)), _SIXTY)

    def block_at(amount: Decimal, direction: str) -> int:
        blocks = _CONTEXT.divide(_CONTEXT.subtract(amount, base), per_block)
        return int(blocks.to_integral_value(rounding=direction, context=_CONTEXT))

    low = max(first, block_at(_CONTEXT.subtract(budget, unit), ROUND_FLOOR))
    if not affordable(low):
        low = first
    high = max(low + 1, block_at(_CONTEXT.add(budget, unit), ROUND_CEILING) + 1)
    while affordable(high):  # cannot happen by the bound above; kept as a guard
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if affordable(middle):
            low = middle
        else:
            high = middle
    return initial + low * subsequent


def _require_balance(available: object) -> Decimal:
    # Unlike a rate, a balance may be below zero (within a debit limit): it affords nothing.
    if type(available) is int:
        return Decimal(available)
    if not isinstance(available, Decimal) or not available.is_finite():
        raise InvalidAmount(
            f"available must be a finite Decimal (never a float), not {available!r}"
        )
    return available
