from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

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
Description = Annotated[str, Field(max_length=2000, examples=["Asterisk 20, rack 4"])]


class IpAuthEntryCreate(BaseModel):
    """A switch of yours: its address, and whether it sends us calls or receives ours."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "address": "203.0.113.0/28",
                    "direction": "ingress",
                    "tech_prefix": "4411#",
                    "channel_limit": 30,
                }
            ]
        },
    )

    address: Address
    direction: Direction = Field(
        description="`ingress`: your switch sends calls to us; `egress`: it receives ours."
    )
    port: Port = 5060
    transport: SipTransport = SipTransport.UDP
    tech_prefix: TechPrefix = ""
    cli_auth: bool = Field(
        False, description="Tell accounts sharing this address apart by their CLIs."
    )
    channel_limit: Limit = 0
    cps_limit: Limit = 0
    force_nat: bool = False
    restricted_codecs: Codecs = []
    description: Description = ""


class IpAuthEntryUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"address": "203.0.113.9"}]}
    )

    address: Address | None = None
    direction: Direction | None = None
    port: Port | None = None
    transport: SipTransport | None = None
    tech_prefix: TechPrefix | None = None
    cli_auth: bool | None = None
    channel_limit: Limit | None = None
    cps_limit: Limit | None = None
    force_nat: bool | None = None
    restricted_codecs: Codecs | None = None
    description: Description | None = None


class IpAuthEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    address: str
    direction: Direction
    port: int
    transport: SipTransport
    tech_prefix: str
    cli_auth: bool
    channel_limit: int
    cps_limit: int
    force_nat: bool
    restricted_codecs: list[str]
    description: str
    version: int = Field(description="Increases with every change.")
    created_at: datetime
    updated_at: datetime
