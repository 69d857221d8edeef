from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.switch_api.carriers.schemas import Timeout

Count = Annotated[int, Field(ge=1, le=1_000_000)]
Seconds = Annotated[int, Field(ge=1, le=30 * 86400)]
Realm = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9.-]+$",
        description="Digest realm of SIP users' 407 challenges; changing it needs every SIP "
        "user's password to be set again (HA1 includes the realm).",
        examples=["sip.carrier.example"],
    ),
]


class SettingsUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"platform_channel_limit": 5000, "auth_failure_max": 5}]},
    )

    platform_channel_limit: Annotated[int, Field(ge=0, le=10_000_000)] | None = Field(
        None, description="Concurrent calls on the whole platform (0 = no limit)."
    )
    flood_max_requests: Count | None = Field(
        None, description="SIP requests one source may send per window before it is blocked."
    )
    flood_window_seconds: Seconds | None = None
    flood_block_seconds: Seconds | None = None
    auth_failure_max: Count | None = Field(
        None, description="Failed authentications from one source per window before a block."
    )
    auth_failure_window_seconds: Seconds | None = None
    auth_failure_block_seconds: Seconds | None = None
    first_reply_timeout: Timeout | None = None
    post_dial_delay_timeout: Timeout | None = None
    ring_timeout: Timeout | None = None
    sip_realm: Realm | None = None


class Settings(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    platform_channel_limit: int
    flood_max_requests: int
    flood_window_seconds: int
    flood_block_seconds: int
    auth_failure_max: int
    auth_failure_window_seconds: int
    auth_failure_block_seconds: int
    first_reply_timeout: float
    post_dial_delay_timeout: float
    ring_timeout: float
    sip_realm: str
    version: int = Field(description="0 while every setting is at its default.")
    updated_at: datetime | None
