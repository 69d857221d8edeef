from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from libs.db.models import CustomerStatus
from libs.web.fields import Amount, NonNegativeAmount
from libs.web.fields import Limit as Limit  # re-exported: other domains import it from here

Currency = Annotated[
    str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.", examples=["EUR"])
]
Name = Annotated[str, Field(min_length=1, max_length=200, examples=["Acme Telecom"])]
Seconds = Annotated[
    int, Field(ge=0, le=7 * 86400, description="Seconds; 0 means no limit at this level.")
]
SourceRanges = Annotated[
    list[str],
    Field(
        max_length=1000,
        description="IPs/CIDRs the account's calls may come from; empty means anywhere.",
        examples=[["203.0.113.0/24"]],
    ),
]
FloodLimit = Annotated[
    int,
    Field(
        ge=1,
        le=1_000_000,
        description="Requests per flood window allowed from each of the account's source "
        "ranges before the source is ignored; omit (null) to use the global setting.",
    ),
]
Notes = Annotated[str, Field(max_length=10_000, examples=["Billing contact: noc@acme.example"])]


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    currency: Currency
    status: CustomerStatus = CustomerStatus.ACTIVE
    debit_limit: NonNegativeAmount = Decimal(0)
    channel_limit: Limit = 0
    cps_limit: Limit = 0
    daily_spend_limit: NonNegativeAmount = Decimal(0)
    max_call_duration: Seconds = 0
    source_ranges: SourceRanges = []
    flood_max_requests: FloodLimit | None = None
    notes: Notes = ""
    ip_auth_self_service: bool = Field(
        False,
        description="The customer's users may add, change and remove their own IP "
        "authentication entries in customer_api (otherwise they only see them).",
    )


class CustomerUpdate(BaseModel):
    """Fields to change; the balance changes only through payments and billing."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    currency: Currency | None = None
    status: CustomerStatus | None = None
    debit_limit: NonNegativeAmount | None = None
    channel_limit: Limit | None = None
    cps_limit: Limit | None = None
    daily_spend_limit: NonNegativeAmount | None = None
    max_call_duration: Seconds | None = None
    source_ranges: SourceRanges | None = None
    flood_max_requests: FloodLimit | None = Field(None, description="`null` clears it.")
    notes: Notes | None = None
    ip_auth_self_service: bool | None = None


class Customer(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    status: CustomerStatus
    currency: str
    balance: Amount
    debit_limit: Amount
    channel_limit: int
    cps_limit: int
    daily_spend_limit: Amount
    max_call_duration: int
    source_ranges: list[str]
    flood_max_requests: int | None
    notes: str
    ip_auth_self_service: bool = Field(
        description="The customer's users may edit their own IP authentication entries."
    )
    version: int = Field(description="Increases with every change.")
    created_at: datetime
    updated_at: datetime
