from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.db.models import Direction, SipTransport
from libs.web.fields import Codecs, Limit, TechPrefix

Address = Annotated[
    str,
    Field(
        min_length=1,
        max_length=255,
        description="An IP address, a CIDR network, or (egress only) a host name.",
        examples=["203.0.113.7"],
    ),
]
Port = Annotated[int, Field(ge=1, le=65535, description="5060; 5061 for TLS.")]
Weight = Annotated[
    int, Field(ge=0, le=1000, description="Share of a carrier's calls (0 drains the gateway).")
]
Username = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s:]+$")]
Password = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description="Write-only: stored encrypted, never returned.",
        json_schema_extra={"writeOnly": True},
    ),
]
Description = Annotated[str, Field(max_length=2000, examples=["Asterisk 20, rack 4"])]


class IpAuthEntryCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "3c9d8f0e-2b1a-4c5d-9e8f-7a6b5c4d3e2f",
                    "address": "203.0.113.0/28",
                    "direction": "ingress",
                    "tech_prefix": "4411#",
                    "channel_limit": 60,
                    "cps_limit": 5,
                }
            ]
        },
    )

    customer_id: uuid.UUID | None = Field(None, description="The owner: a customer …")
    carrier_id: uuid.UUID | None = Field(None, description="… or a carrier (exactly one).")
    address: Address
    direction: Direction = Field(
        description="`ingress`: the switch sends calls to us; `egress`: it receives our calls."
    )
    port: Port = 5060
    transport: SipTransport = SipTransport.UDP
    tech_prefix: TechPrefix = ""
    cli_auth: bool = Field(
        False, description="Tell customers sharing this address apart by their CLIs."
    )
    channel_limit: Limit = 0
    cps_limit: Limit = 0
    force_nat: bool = False
    weight: Weight = 1
    username: Username | None = Field(None, description="Egress digest credentials.")
    password: Password | None = None
    restricted_codecs: Codecs = []
    media_zone_id: uuid.UUID | None = None
    description: Description = ""

    @model_validator(mode="after")
    def _one_owner(self) -> Self:
        if (self.customer_id is None) == (self.carrier_id is None):
            raise ValueError("give exactly one owner: customer_id or carrier_id")
        return self


class IpAuthEntryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Address | None = None
    direction: Direction | None = None
    port: Port | None = None
    transport: SipTransport | None = None
    tech_prefix: TechPrefix | None = None
    cli_auth: bool | None = None
    channel_limit: Limit | None = None
    cps_limit: Limit | None = None
    force_nat: bool | None = None
    weight: Weight | None = None
    username: Username | None = Field(None, description="`null` removes the credentials.")
    password: Password | None = None
    restricted_codecs: Codecs | None = None
    media_zone_id: uuid.UUID | None = Field(None, description="`null` removes the zone.")
    description: Description | None = None


class IpAuthEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID | None
    carrier_id: uuid.UUID | None
    address: str
    direction: Direction
    port: int
    transport: SipTransport
    tech_prefix: str
    cli_auth: bool
    channel_limit: int
    cps_limit: int
    force_nat: bool
    weight: int
    username: str | None
    has_password: bool = Field(description="An egress password is set (it is never shown).")
    restricted_codecs: list[str]
    media_zone_id: uuid.UUID | None
    description: str
    version: int
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        if hasattr(value, "password_ciphertext"):
            data = {name: getattr(value, name) for name in set(cls.model_fields) - {"has_password"}}
            data["has_password"] = value.password_ciphertext is not None
            return data
        return value
