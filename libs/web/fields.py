"""Field types shared by API schemas."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer

__all__ = ["AMOUNT_PLACES", "Amount", "NonNegativeAmount"]

#: Decimal places of every stored amount (``libs.db.Money``'s scale).
AMOUNT_PLACES = 6
_UNIT = Decimal(1).scaleb(-AMOUNT_PLACES)


def _as_string(value: Decimal) -> str:
    return format(value.quantize(_UNIT), "f")


_amount_json = PlainSerializer(_as_string, return_type=str, when_used="json")

#: Money: a JSON string with exactly six decimal places on output (``"10.500000"``); a string
#: or a number on input, refused if it has more than six places. Never a float in between.
Amount = Annotated[
    Decimal,
    Field(max_digits=18, decimal_places=AMOUNT_PLACES, examples=["100.000000"]),
    _amount_json,
]
NonNegativeAmount = Annotated[
    Decimal,
    Field(ge=0, max_digits=18, decimal_places=AMOUNT_PLACES, examples=["50.000000"]),
    _amount_json,
]
