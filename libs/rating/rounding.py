"""Rounding modes for charges, named the way rate cards name them.

=============  ==========================  ===================================================
``Rounding``   accepted names              :mod:`decimal` constant
=============  ==========================  ===================================================
HALF_UP        half_up, nearest            ``ROUND_HALF_UP``   (0.12345 → 0.1235 at 4 places)
HALF_DOWN      half_down                   ``ROUND_HALF_DOWN`` (0.12345 → 0.1234)
HALF_EVEN      half_even, bankers          ``ROUND_HALF_EVEN`` (0.12345 → 0.1234, 0.12355 → 0.1236)
UP             up, ceiling, ceil           ``ROUND_CEILING``   (any fraction rounds up)
DOWN           down, floor, truncate       ``ROUND_FLOOR``     (any fraction is dropped)
=============  ==========================  ===================================================

Charges are never negative, so "up" and "ceiling" (and "down" and "floor") agree; the ceiling
and floor constants are used so that the meaning stays "toward the carrier" / "toward the
customer" should a negative amount (a credit) ever be rounded. ``nearest`` is the open
rate-card format's name for half-up. Names are case-insensitive and ``-`` equals ``_``.
"""

from __future__ import annotations

from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
)
from enum import StrEnum

from libs.rating.errors import UnknownRounding

__all__ = ["Rounding"]


class Rounding(StrEnum):
    """How a charge is rounded to the card's precision."""

    HALF_UP = "half_up"
    HALF_DOWN = "half_down"
    HALF_EVEN = "half_even"
    UP = "up"
    DOWN = "down"

    @property
    def decimal_mode(self) -> str:
        """The :mod:`decimal` rounding constant for this mode."""
        return _DECIMAL_MODES[self]

    @classmethod
    def parse(cls, name: str | Rounding) -> Rounding:
        """The mode called ``name`` (see the module's table for the accepted aliases)."""
        if isinstance(name, Rounding):
            return name
        if not isinstance(name, str):
            raise UnknownRounding(f"a rounding mode is a name, not {name!r}")
        key = name.strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return _ALIASES[key]
        except KeyError:
            known = ", ".join(sorted(_ALIASES))
            raise UnknownRounding(f"unknown rounding mode {name!r} (known: {known})") from None


_DECIMAL_MODES: dict[Rounding, str] = {
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.HALF_DOWN: ROUND_HALF_DOWN,
    Rounding.HALF_EVEN: ROUND_HALF_EVEN,
    Rounding.UP: ROUND_CEILING,
    Rounding.DOWN: ROUND_FLOOR,
}

_ALIASES: dict[str, Rounding] = {
    **{mode.value: mode for mode in Rounding},
    "nearest": Rounding.HALF_UP,
    "bankers": Rounding.HALF_EVEN,
    "ceiling": Rounding.UP,
    "ceil": Rounding.UP,
    "floor": Rounding.DOWN,
    "truncate": Rounding.DOWN,
}
