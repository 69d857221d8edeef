from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from libs.db.models import NatPing, SipTransport
from services.switch_api.customers.schemas import Limit
from services.switch_api.ip_auth.schemas import Codecs

Username = Annotated[
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
AllowList = Annotated[
    list[str],
    Field(max_length=1000, description="IPs/CIDRs the user may register and call from."),
]
Outside = Annotated[
    int,
    Field(
        ge=0,
        le=1000,
        description="Concurrent calls allowed from addresses outside the allow list "
        "(0 = none; 1-3 suits road warriors).",
    ),
]


class SipUserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "3c9d8f0e-2b1a-4c5d-9e8f-7a6b5c4d3e2f",
                    "username": "office-pbx",
                    "password": "long and unguessable",
                    "channel_limit": 10,
                    "allowed_sources": ["198.51.100.0/24"],
                    "calls_outside_allow_list": 2,
                }
            ]
        },
    )

    customer_id: uuid.UUID
    username: Username
    password: SipPassword | None = Field(
        None, description="Omit to have a strong one generated (returned once)."
    )
    channel_limit: Limit = 0
    cps_limit: Limit = 0
    allowed_sources: AllowList = []
    calls_outside_allow_list: Outside = 0
    nat_ping: NatPing = NatPing.DISABLED
    retain_did: bool = Field(False, description="Keep the dialled DID instead of the username.")
    transport: SipTransport = SipTransport.UDP
    restricted_codecs: Codecs = []


class SipUserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username | None = Field(None, description="Changing it needs a new password.")
    password: SipPassword | None = None
    channel_limit: Limit | None = None
    cps_limit: Limit | None = None
    allowed_sources: AllowList | None = None
    calls_outside_allow_list: Outside | None = None
    nat_ping: NatPing | None = None
    retain_did: bool | None = None
    transport: SipTransport | None = None
    restricted_codecs: Codecs | None = None


class SipUser(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    username: str
    realm: str = Field(description="The realm the password was hashed in.")
    channel_limit: int
    cps_limit: int
    allowed_sources: list[str]
    calls_outside_allow_list: int
    nat_ping: NatPing
    retain_did: bool
    transport: SipTransport
    restricted_codecs: list[str]
    version: int
    created_at: datetime
    updated_at: datetime


class SipUserCreated(BaseModel):
    sip_user: SipUser
    generated_password: str | None = Field(
        description="The generated password, shown only now (null if you chose one)."
    )


class GeneratedPassword(BaseModel):
    sip_user: SipUser
    password: str = Field(
        description="Shown only now: it cannot be read back later.",
        examples=["k3Jq9x_Vd2LmPzR8aT0wNe"],
    )
