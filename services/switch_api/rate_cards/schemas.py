from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from libs.db.models import RateCardDirection
from libs.rating import MAX_PRECISION, Rounding
from services.switch_api.customers.schemas import Currency, Name


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


#: A rate or fee: up to 8 decimal places; a decimal string in JSON.
RateAmount = Annotated[
    Decimal,
    Field(ge=0, lt=10**9, max_digits=18, decimal_places=8, examples=["0.0125"]),
    PlainSerializer(_plain, return_type=str, when_used="json"),
]
Initial = Annotated[int, Field(ge=0, le=86400, description="Seconds billed first (e.g. 30).")]
Subsequent = Annotated[int, Field(ge=1, le=86400, description="Then billed per (e.g. 6).")]
Prefix = Annotated[str, Field(pattern=r"^[0-9]{1,32}$", examples=["4420"])]


class RevisionStatus(StrEnum):
    #: No effective date yet: never used for calls; rates can be edited and imported.
    DRAFT = "draft"
    #: Takes effect at ``effective_from`` (nodes switch by themselves at that instant).
    SCHEDULED = "scheduled"
    #: The revision calls are rated with now.
    ACTIVE = "active"
    #: Replaced by a later revision; kept for re-rating older calls.
    SUPERSEDED = "superseded"


class RateCardCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Wholesale EUR",
                    "direction": "sell",
                    "currency": "EUR",
                    "precision": 4,
                    "rounding": "half_up",
                    "default_initial": 30,
                    "default_subsequent": 6,
                }
            ]
        },
    )

    name: Name
    direction: RateCardDirection = Field(description="`sell` (routes) or `buy` (carriers).")
    currency: Currency
    precision: Annotated[int, Field(ge=0, le=MAX_PRECISION)] = 4
    rounding: Rounding = Rounding.HALF_UP
    default_initial: Initial = 60
    default_subsequent: Subsequent = 60
    description: Annotated[str, Field(max_length=2000)] = ""


class RateCardUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    direction: RateCardDirection | None = None
    currency: Currency | None = None
    precision: Annotated[int, Field(ge=0, le=MAX_PRECISION)] | None = None
    rounding: Rounding | None = None
    default_initial: Initial | None = None
    default_subsequent: Subsequent | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None


class RateCard(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    direction: RateCardDirection
    currency: str
    precision: int
    rounding: Rounding
    default_initial: int
    default_subsequent: int
    description: str
    version: int
    created_at: datetime
    updated_at: datetime


class RevisionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "January prices", "copy_from": None}]},
    )

    name: Annotated[str, Field(max_length=200)] = ""
    effective_from: AwareDatetime | None = Field(
        None, description="When it takes effect (future); omit for a draft."
    )
    copy_from: uuid.UUID | None = Field(
        None, description="Start with the rates of this revision of the same card."
    )


class RevisionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=200)] | None = None
    effective_from: AwareDatetime | None = Field(
        None, description="A future instant; `null` makes a scheduled revision a draft again."
    )


class Revision(BaseModel):
    id: uuid.UUID
    rate_card_id: uuid.UUID
    name: str
    effective_from: datetime | None
    status: RevisionStatus
    rate_count: int
    version: int
    created_at: datetime
    updated_at: datetime


class RateWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"destination": "UK London", "rate": "0.0125", "connection_fee": "0"}]
        },
    )

    destination: Annotated[str, Field(max_length=200)] = ""
    rate: RateAmount
    connection_fee: RateAmount = Decimal(0)
    initial_increment: Initial | None = Field(None, description="Default: the card's.")
    subsequent_increment: Subsequent | None = Field(None, description="Default: the card's.")
    blocked: bool = False


class Rate(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    prefix: str
    destination: str
    rate: RateAmount
    connection_fee: RateAmount
    initial_increment: int
    subsequent_increment: int
    blocked: bool


class RatePage(BaseModel):
    items: list[Rate]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class ImportMode(StrEnum):
    #: The upload becomes the revision's rates (rates not in it are removed).
    REPLACE = "replace"
    #: Rates in the upload are added or replace those with the same prefix; others stay.
    MERGE = "merge"


class ImportFormat(StrEnum):
    CSV = "csv"
    #: The open rate-card interchange format (github.com/connexcs/open-rate-card).
    OPEN_RATE_CARD = "open-rate-card"


class ImportState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ImportResult(BaseModel):
    import_id: uuid.UUID
    revision_id: uuid.UUID
    format: ImportFormat
    mode: ImportMode
    rows: int = Field(description="Rates imported.")
    rate_count: int = Field(description="Rates the revision holds now.")
    seconds: float


class ImportProgress(BaseModel):
    import_id: uuid.UUID
    revision_id: uuid.UUID
    state: ImportState
    rows_read: int
    bytes_read: int
    bytes_total: int
    errors: list[dict[str, Any]] = []
    started_at: datetime
    finished_at: datetime | None = None
