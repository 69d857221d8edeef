"""Billing increments: how a call's duration becomes the seconds it is billed for.

A carrier bills a call in an *initial* block and then in *subsequent* blocks ("30/6": the first
30 seconds are billed whole, then every started 6 seconds). Common schemes are 60/60, 30/6, 6/6,
1/1 and 0/1 (per second from the first second).

Sub-second durations
    A duration may be given as whole seconds (``int``) or exact seconds (``Decimal``, e.g. from
    :func:`from_milliseconds`). Any started second is billed as a whole second *before* the
    increments apply — 20.001 s is 21 s, and under 1/1 it bills 21 s — which is what carriers'
    billing does and guarantees billable ≥ actual. Floats are refused: ``30.000000001`` from a
    float subtraction would silently bill the next block.

Unanswered calls
    A zero duration (an unanswered call, or one hung up in the same millisecond) bills 0 seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from libs.rating.errors import InvalidDuration, InvalidIncrements

__all__ = ["BillingIncrements", "billable_seconds", "from_milliseconds", "whole_seconds"]


@dataclass(frozen=True, slots=True)
class BillingIncrements:
    """An initial block and the subsequent blocks a call is billed in, both in seconds.

    ``initial`` may be 0 (billing starts with the first subsequent block); ``subsequent`` is at
    least 1. ``str()`` gives the usual ``"30/6"`` notation and :meth:`parse` reads it back.
    """

    initial: int
    subsequent: int

    def __post_init__(self) -> None:
        for name in ("initial", "subsequent"):
            value = getattr(self, name)
            if type(value) is not int:
                raise InvalidIncrements(f"{name} increment must be an int, not {value!r}")
        if self.initial < 0:
            raise InvalidIncrements(f"initial increment must be >= 0, not {self.initial}")
        if self.subsequent < 1:
            raise InvalidIncrements(f"subsequent increment must be >= 1, not {self.subsequent}")

    @classmethod
    def parse(cls, text: str) -> BillingIncrements:
        """Read ``"30/6"`` (also ``"30+6"`` or ``"30-6"``) as ``BillingIncrements(30, 6)``."""
        for separator in ("/", "+", "-"):
            initial, found, subsequent = text.strip().partition(separator)
            if found:
                break
        else:
            raise InvalidIncrements(f"increments must look like '30/6', not {text!r}")
        if not (initial.strip().isdigit() and subsequent.strip().isdigit()):
            raise InvalidIncrements(f"increments must look like '30/6', not {text!r}")
        return cls(int(initial), int(subsequent))

    def __str__(self) -> str:
        return f"{self.initial}/{self.subsequent}"


def whole_seconds(duration: int | Decimal) -> int:
    """The duration in whole seconds, any started second counted (``Decimal("20.001")`` → 21)."""
    if type(duration) is int:
        if duration < 0:
            raise InvalidDuration(f"a duration cannot be negative: {duration}")
        return duration
    if isinstance(duration, Decimal):
        if not duration.is_finite() or duration < 0:
            raise InvalidDuration(f"a duration must be finite and >= 0: {duration}")
        return int(duration.to_integral_value(rounding=ROUND_CEILING))
    raise InvalidDuration(
        f"a duration must be int or Decimal seconds, not {type(duration).__name__}"
    )


def from_milliseconds(milliseconds: int) -> Decimal:
    """Exact seconds from a duration in milliseconds (``1500`` → ``Decimal("1.5")``)."""
    if type(milliseconds) is not int or milliseconds < 0:
        raise InvalidDuration(f"milliseconds must be an int >= 0, not {milliseconds!r}")
    return Decimal(milliseconds).scaleb(-3)


def billable_seconds(duration: int | Decimal, increments: BillingIncrements) -> int:
    """The seconds a call of ``duration`` is billed for under ``increments``.

    ``0`` for a zero duration; otherwise the duration rounded up to whole seconds, then to the
    initial block, then to whole subsequent blocks: under 30/6, 20 s bills 30 s and 31 s bills
    36 s; under 60/60, 61 s bills 120 s; under 0/1 and 1/1, every started second is billed.
    """
    seconds = whole_seconds(duration)
    if seconds == 0:
        return 0
    initial, subsequent = increments.initial, increments.subsequent
    if seconds <= initial:
        return initial
    blocks = -(-(seconds - initial) // subsequent)  # ceiling division on ints
    return initial + blocks * subsequent
