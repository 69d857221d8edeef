from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Registration(BaseModel):
    """One binding: a contact where a SIP user's calls and messages reach it."""

    sip_user_id: uuid.UUID
    customer_id: uuid.UUID
    username: str
    contact: str = Field(description="The Contact URI the phone registered.")
    expires_at: datetime
    expires_in: int = Field(description="Seconds left now.")
    registered_at: datetime = Field(description="The last REGISTER that refreshed it.")
    transport: Literal["udp", "tcp", "tls"]
    source: str = Field(description="host:port the REGISTER came from.")
    target: str = Field(description="host:port requests are sent to (the source behind NAT).")
    nat: bool
    user_agent: str | None = None
    node_id: str = Field(description="The sip_core node holding the binding.")


class SipMessageCreate(BaseModel):
    text: str = Field(min_length=1, max_length=1300, description="Shown on the phone.")
    sender: str = Field(
        "operator",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._~!$&'()*+,;=-]+$",
        description="The user part of the From URI the phone shows.",
    )


class ContactDelivery(BaseModel):
    contact: str
    status: int | None = Field(None, description="The phone's SIP answer; null: none in time.")
    reason: str = ""


class SipMessageResult(BaseModel):
    delivered: bool = Field(description="True if some contact answered 2xx.")
    results: list[ContactDelivery]
    node_id: str = Field(description="The sip_core node that sent it.")
