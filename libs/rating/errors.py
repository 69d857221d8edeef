"""Exceptions raised by :mod:`libs.rating`.

Every exception the library raises on purpose derives from one root, so a caller can catch
``RatingError`` and know it caught nothing else::

    RatingError
    ├── InvalidAmount        an amount or rate that is not a finite, non-negative Decimal
    ├── InvalidDuration      a negative or float duration, or one on an unanswered call
    ├── InvalidIncrements    billing increments outside 0 ≤ initial, 1 ≤ subsequent
    └── UnknownRounding      a rounding mode name the library does not know

All four are also ``ValueError`` s.
"""

from __future__ import annotations

__all__ = [
    "InvalidAmount",
    "InvalidDuration",
    "InvalidIncrements",
    "RatingError",
    "UnknownRounding",
]


class RatingError(Exception):
    """The root of every exception :mod:`libs.rating` raises on purpose."""


class InvalidAmount(RatingError, ValueError):
    """An amount of money or a rate that is not a finite, non-negative ``Decimal``.

    Floats are refused outright: ``0.1`` is not one tenth in binary, and a rating library that
    accepted it would bill a different amount than the rate card says.
    """


class InvalidDuration(RatingError, ValueError):
    """A call duration that is negative, a float, or contradicts the answered flag."""


class InvalidIncrements(RatingError, ValueError):
    """Billing increments outside ``initial >= 0`` and ``subsequent >= 1``."""


class UnknownRounding(RatingError, ValueError):
    """A rounding mode name that :class:`~libs.rating.Rounding` does not know."""
