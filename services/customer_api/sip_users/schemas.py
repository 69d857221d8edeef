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

ChannelLimit = Limit


class SipUserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "office-pbx",
                    "channel_limit": 10,
                    "allowed_sources": ["198.51.100.0/24"],
                    "calls_outside_allow_list": 2,
                }
            ]
        },
    )

    username: SipUsername
    password: SipPassword | None = Field(
        None, description="Omit to have a strong one generated (returned once)."
    )
    channel_limit: ChannelLimit = Field(
        0,
        description="Concurrent calls this user holds out of your account's channels (0 = it "
        "holds none of its own and shares the account's).",
    )
    cps_limit: Limit = 0
    allowed_sources: SipAllowList = []
    calls_outside_allow_list: CallsOutsideAllowList = 0
    nat_ping: NatPing = NatPing.DISABLED
    retain_did: bool = Field(False, description="Keep the dialled DID instead of the username.")
    transport: SipTransport = SipTransport.UDP
    restricted_codecs: Codecs = []


class SipUserUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"channel_limit": 20}]}
    )

    username: SipUsername | None = Field(None, description="Changing it needs a new password.")
    password: SipPassword | None = None
    channel_limit: ChannelLimit | None = None
    cps_limit: Limit | None = None
    allowed_sources: SipAllowList | None = None
    calls_outside_allow_list: CallsOutsideAllowList | None = None
    nat_ping: NatPing | None = None
    retain_did: bool | None = None
    transport: SipTransport | None = None
    restricted_codecs: Codecs | None = None


class SipUser(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    realm: str = Field(description="The digest realm to configure with the username.")
    channel_limit: int
    cps_limit: int
    allowed_sources: list[str]
    calls_outside_allow_list: int
    nat_ping: NatPing
    retain_did: bool
    transport: SipTransport
    restricted_codecs: list[str]
    version: int = Field(description="Increases with every change.")
    created_at: datetime
    updated_at: datetime


class SipUserCreated(BaseModel):
    sip_user: SipUser
    generated_password: str | None = Field(
        description="The generated password, shown only now (null if you chose one).",
        examples=["k3Jq9x_Vd2LmPzR8aT0wNe"],
    )


class PasswordReset(BaseModel):
    sip_user: SipUser
    password: str = Field(
        description="The new password, shown only now: it cannot be read back later.",
        examples=["k3Jq9x_Vd2LmPzR8aT0wNe"],
    )
