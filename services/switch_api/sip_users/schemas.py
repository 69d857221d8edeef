from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from libs.db.models import NatPing, SipTransport
from libs.web.fields import (
    CallsOutsideAllowList,
    Codecs,
    Limit,
    SipAllowList,
    SipPassword,
    SipUsername,
)

Username = SipUsername
AllowList = SipAllowList
Outside = CallsOutsideAllowList


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
