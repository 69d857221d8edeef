from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from libs.web.fields import Amount


class Cdr(BaseModel):
    """One call, as sip_core reported it and billing rated it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    call_id: str
    sip_call_id: str
    node_id: str
    zone: str
    source_address: str
    customer_id: uuid.UUID | None
    auth_method: str | None
    ipauth_id: uuid.UUID | None
    sip_user_id: uuid.UUID | None
    caller_received: str
    callee_received: str
    caller_sent: str
    callee_sent: str
    route_id: uuid.UUID | None
    sell_card_id: uuid.UUID | None
    sell_prefix: str | None
    destination: str | None
    sell_rate: Decimal | None = Field(description="Per minute, in `currency`.")
    connection_fee: Decimal | None
    initial_increment: int | None
    subsequent_increment: int | None
    currency: str | None
    carrier_id: uuid.UUID | None = Field(
        description="The carrier of the answered attempt (of the last one if unanswered)."
    )
    gateway: str | None
    buy_card_id: uuid.UUID | None
    buy_prefix: str | None
    buy_rate: Decimal | None
    cost_currency: str | None
    pdd_ms: int | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    duration_ms: int = Field(description="Talk time; 0 for an unanswered call.")
    billed_seconds: int = Field(description="Seconds billed to the customer (increments applied).")
    cost_seconds: int
    sip_code: int
    sip_reason: str
    release_reason: str
    released_by: str
    charge: Amount = Field(description="What the customer was charged.")
    cost: Amount = Field(description="What the carrier charges.")
    attempts: list[dict[str, Any]]
    media: dict[str, Any]
    rated_at: datetime
    rerated_at: datetime | None


class CdrSummary(BaseModel):
    """Traffic and money of one customer, carrier, destination or day."""

    model_config = ConfigDict(from_attributes=True)

    key: str | None = Field(description="The customer or carrier id, destination or UTC day.")
    name: str | None = Field(None, description="The customer's or carrier's name.")
    attempts: int
    answered: int
    asr: Decimal = Field(description="Answer-seizure ratio, percent.")
    acd: Decimal = Field(description="Average call duration of answered calls, seconds.")
    minutes: Decimal = Field(description="Talk time, minutes.")
    billed_minutes: Decimal
    charge: Amount
    cost: Amount
    margin: Amount
