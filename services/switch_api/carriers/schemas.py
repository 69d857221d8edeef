from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.db.models import CarrierStatus, PaiPolicy
from libs.web.fields import Limit, TechPrefix
from services.switch_api.customers.schemas import Name

Timeout = Annotated[float, Field(gt=0, le=3600, description="Seconds.")]
SipCode = Annotated[int, Field(ge=300, le=699)]
Codes = Annotated[list[SipCode], Field(max_length=100)]


class CarrierTimeouts(BaseModel):
    """How long sip_core waits for the carrier on each attempt before failing over."""

    model_config = ConfigDict(extra="forbid")

    first_reply: Timeout = Field(3.0, description="Any response to the INVITE (100 Trying).")
    post_dial_delay: Timeout = Field(15.0, description="Ringing or progress (18x).")
    ring: Timeout = Field(120.0, description="The answer once ringing.")


class CarrierCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Carrier One",
                    "channel_limit": 300,
                    "cps_limit": 30,
                    "timeouts": {"first_reply": 2, "post_dial_delay": 10, "ring": 90},
                    "failover_codes": [408, 480, 503],
                    "stop_codes": [404, 486],
                    "pai_policy": "from_cli",
                }
            ]
        },
    )

    name: Name
    status: CarrierStatus = CarrierStatus.ACTIVE
    rate_card_id: uuid.UUID | None = Field(None, description="The buy card (direction `buy`).")
    channel_limit: Limit = 0
    cps_limit: Limit = 0
    timeouts: CarrierTimeouts = CarrierTimeouts()
    failover_codes: Codes = Field(
        [], description="Final responses that try the next carrier (besides the defaults)."
    )
    stop_codes: Codes = Field([], description="Final responses that end routing at once.")
    tech_prefix: TechPrefix = ""
    pai_policy: PaiPolicy = PaiPolicy.PASS
    notes: Annotated[str, Field(max_length=10_000)] = ""


class CarrierUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    status: CarrierStatus | None = None
    rate_card_id: uuid.UUID | None = Field(None, description="`null` removes the buy card.")
    channel_limit: Limit | None = None
    cps_limit: Limit | None = None
    timeouts: CarrierTimeouts | None = None
    failover_codes: Codes | None = None
    stop_codes: Codes | None = None
    tech_prefix: TechPrefix | None = None
    pai_policy: PaiPolicy | None = None
    notes: Annotated[str | None, Field(max_length=10_000)] = None


class Carrier(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    status: CarrierStatus
    rate_card_id: uuid.UUID | None
    channel_limit: int
    cps_limit: int
    timeouts: CarrierTimeouts
    failover_codes: list[int]
    stop_codes: list[int]
    tech_prefix: str
    pai_policy: PaiPolicy
    notes: str
    version: int = Field(description="Increases with every change.")
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        if hasattr(value, "first_reply_timeout"):
            data = {name: getattr(value, name) for name in set(cls.model_fields) - {"timeouts"}}
            data["timeouts"] = CarrierTimeouts(
                first_reply=value.first_reply_timeout,
                post_dial_delay=value.post_dial_delay_timeout,
                ring=value.ring_timeout,
            )
            return data
        return value
