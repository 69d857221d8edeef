"""Tandem's rating: what a call costs, in exact decimal money. Pure functions, no I/O.

Used by sip_core (to cap a call at what the balance buys), lookup_api (to quote a price) and
the billing worker (to rate CDRs) — so a quote, a cap and a bill always agree.

=============  ==================================================================
module         what it does
=============  ==================================================================
increments     billing increments (30/6 …) and the seconds a duration bills
rounding       rounding mode names → :mod:`decimal` constants
pricing        ``Rate``, ``Charge``, :func:`price`, :func:`max_duration_for_balance`
errors         the exception tree, rooted at :class:`RatingError`
=============  ==================================================================

Money is :class:`decimal.Decimal` end to end: every function refuses floats.
"""

from libs.rating.errors import (
    InvalidAmount,
    InvalidDuration,
    InvalidIncrements,
    RatingError,
    UnknownRounding,
)
from libs.rating.increments import (
    BillingIncrements,
    billable_seconds,
    from_milliseconds,
    whole_seconds,
)
from libs.rating.pricing import (
    MAX_PRECISION,
    Charge,
    Rate,
    max_duration_for_balance,
    price,
    require_amount,
)
from libs.rating.rounding import Rounding

__all__ = [
    "MAX_PRECISION",
    "BillingIncrements",
    "Charge",
    "InvalidAmount",
    "InvalidDuration",
    "InvalidIncrements",
    "Rate",
    "RatingError",
    "Rounding",
    "UnknownRounding",
    "billable_seconds",
    "from_milliseconds",
    "max_duration_for_balance",
    "price",
    "require_amount",
    "whole_seconds",
]
