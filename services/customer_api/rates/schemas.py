from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


#: A rate or fee as a decimal string (up to 8 places), never a float.
RateAmount = Annotated[
    Decimal,
    Field(examples=["0.0125"]),
    PlainSerializer(_plain, return_type=str, when_used="json"),
]


class Revision(BaseModel):
    """A dated set of rates of a card."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    effective_from: datetime = Field(description="When these rates apply from (UTC).")


class RateCard(BaseModel):
    """A sell card one of your routes uses: what your calls are charged."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9b2f6a4e-7c1d-4e8f-a0b3-5d6c7e8f9a0b",
                    "name": "Wholesale A-Z",
                    "currency": "EUR",
                    "precision": 4,
                    "rounding": "half_up",
                    "default_initial": 60,
                    "default_subsequent": 60,
                    "active_revision": {
                        "id": "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b",
                        "name": "November",
                        "effective_from": "2026-11-01T00:00:00Z",
                    },
                    "scheduled_revision": None,
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    currency: str = Field(description="ISO 4217 code of the rates.")
    precision: int = Field(description="Decimal places a call's charge is rounded to.")
    rounding: str = Field(description="How a charge is rounded to `precision`.")
    default_initial: int = Field(description="Seconds billed first, unless a rate says else.")
    default_subsequent: int = Field(description="Then billed per this many seconds.")
    active_revision: Revision | None = Field(description="The rates in effect now.")
    scheduled_revision: Revision | None = Field(
        description="The next rates, and when they take effect (null if none is scheduled)."
    )


class Rate(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    prefix: str = Field(examples=["4420"])
    destination: str = Field(examples=["United Kingdom - London"])
    rate: RateAmount = Field(description="Per minute, in the card's currency.")
    connection_fee: RateAmount = Field(description="Charged once per answered call.")
    initial_increment: int = Field(description="Seconds billed first (e.g. 30).")
    subsequent_increment: int = Field(description="Then billed per (e.g. 6).")
    blocked: bool = Field(description="Calls to this prefix are refused.")


class RatePage(BaseModel):
    revision: Revision = Field(description="The revision these rates belong to.")
    items: list[Rate]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")
