"""Field types shared by API schemas."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer

__all__ = [
    "AMOUNT_PLACES",
    "Amount",
    "CallsOutsideAllowList",
    "Codec",
    "Codecs",
    "Limit",
    "NonNegativeAmount",
    "SipAllowList",
    "SipPassword",
    "SipUsername",
    "TechPrefix",
]

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

Limit = Annotated[int, Field(ge=0, le=1_000_000, description="0 means no limit at this level.")]
TechPrefix = Annotated[
    str,
    Field(
        max_length=64,
        pattern=r"^[^\s]*$",
        description="Put in front of the number (egress) or expected before it (ingress).",
        examples=["7788#"],
    ),
]
Codec = Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{1,32}$", examples=["G729"])]
Codecs = Annotated[
    list[Codec], Field(max_length=50, description="Codecs refused on this entry (SDP names).")
]
SipUsername = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._~!$&'()*+,;=%-]+$",
        description="The digest username (unique within the customer).",
        examples=["office-pbx"],
    ),
]
SipPassword = Annotated[
    str,
    Field(
        min_length=8,
        max_length=128,
        description="Write-only: only its HA1 hashes (MD5, SHA-256) are stored.",
        json_schema_extra={"writeOnly": True},
    ),
]
SipAllowList = Annotated[
    list[str],
    Field(max_length=1000, description="IPs/CIDRs the user may register and call from."),
]
CallsOutsideAllowList = Annotated[
    int,
    Field(
        ge=0,
        le=1000,
        description="Concurrent calls allowed from addresses outside the allow list "
        "(0 = none; 1-3 suits road warriors).",
    ),
]
