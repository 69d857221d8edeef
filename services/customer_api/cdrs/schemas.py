from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from libs.web.fields import Amount


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


#: A rate or fee as a decimal string (up to 8 places), never a float.
RateAmount = Annotated[
    Decimal, Field(examples=["0.0125"]), PlainSerializer(_plain, return_type=str, when_used="json")
]
#: A ratio or average as a decimal string.
Figure = Annotated[Decimal, PlainSerializer(_plain, return_type=str, when_used="json")]


class CallRecord(BaseModel):
    """One of your calls, as the switch billed it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
                    "call_id": "c0ffee1234",
                    "started_at": "2026-11-25T10:00:00Z",
                    "answered_at": "2026-11-25T10:00:02Z",
                    "ended_at": "2026-11-25T10:00:22Z",
                    "caller": "4420700000",
                    "callee": "4930123456",
                    "destination": "Germany",
                    "prefix": "49",
                    "duration_seconds": "20",
                    "billed_seconds": 60,
                    "rate": "0.06",
                    "connection_fee": "0",
                    "charge": "0.060000",
                    "currency": "EUR",
                    "sip_code": 200,
                    "sip_reason": "OK",
                    "release_reason": "normal",
                    "released_by": "caller",
                    "sip_user_id": None,
                    "ip_auth_id": "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b",
                    "source_address": "203.0.113.7:5060",
                }
            ]
        }
    )

    id: uuid.UUID
    call_id: str = Field(description="The switch's unique id of the call.")
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    caller: str = Field(description="The calling number as you sent it.")
    callee: str = Field(description="The dialled number as you sent it.")
    destination: str | None = Field(description="The destination of the rate charged.")
    prefix: str | None = Field(description="The rate's prefix.")
    duration_seconds: Figure = Field(description="Talk time (answer to end), in seconds.")
    billed_seconds: int = Field(description="Seconds charged, after the rate's increments.")
    rate: RateAmount | None = Field(description="Per minute.")
    connection_fee: RateAmount | None
    charge: Amount = Field(description="What the call cost you.")
    currency: str | None
    sip_code: int = Field(description="The final SIP response code.")
    sip_reason: str
    release_reason: str
    released_by: str
    sip_user_id: uuid.UUID | None = Field(description="The SIP user that placed the call.")
    ip_auth_id: uuid.UUID | None = Field(description="The IP authentication entry it came in on.")
    source_address: str

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        if not hasattr(value, "call_id"):
            return value
        return {
            "id": value.id,
            "call_id": value.call_id,
            "started_at": value.started_at,
            "answered_at": value.answered_at,
            "ended_at": value.ended_at,
            "caller": value.caller_received,
            "callee": value.callee_received,
            "destination": value.destination,
            "prefix": value.sell_prefix,
            "duration_seconds": Decimal(value.duration_ms) / 1000,
            "billed_seconds": value.billed_seconds,
            "rate": value.sell_rate,
            "connection_fee": value.connection_fee,
            "charge": value.charge,
            "currency": value.currency,
            "sip_code": value.sip_code,
            "sip_reason": value.sip_reason,
            "release_reason": value.release_reason,
            "released_by": value.released_by,
            "sip_user_id": value.sip_user_id,
            "ip_auth_id": value.ipauth_id,
            "source_address": value.source_address,
        }


class CallSummary(BaseModel):
    """Your traffic of one destination or one UTC day."""

    key: str = Field(description="The destination, or the day (YYYY-MM-DD).")
    attempts: int
    answered: int
    asr: Figure = Field(description="Answered / attempts, in percent.")
    acd_seconds: Figure = Field(description="Average duration of the answered calls.")
    minutes: Figure = Field(description="Talk time.")
    billed_minutes: Figure = Field(description="Minutes charged, after the rates' increments.")
    charge: Amount


class CallSummaries(BaseModel):
    by: str = Field(description="`destination` or `day`.")
    items: list[CallSummary] = Field(
        description="Per destination (most attempts first) or per day (in date order)."
    )
