"""Exceptions raised by :mod:`libs.billing`.

::

    BillingError
    ├── UnknownCustomer      no customer with that id (a payment, a ledger listing)
    └── InvalidAdjustment    an amount that is not a positive Decimal of at most 6 places
"""

from __future__ import annotations

__all__ = ["BillingError", "InvalidAdjustment", "UnknownCustomer"]


class BillingError(Exception):
    """The root of every exception :mod:`libs.billing` raises on purpose."""


class UnknownCustomer(BillingError, LookupError):
    """No customer has this id."""


class InvalidAdjustment(BillingError, ValueError):
    """A payment or adjustment amount that is not positive or has more than 6 decimal places."""
