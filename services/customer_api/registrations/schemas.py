from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Registration(BaseModel):
    """One binding: a contact where one of your SIP users' calls and messages reach it."""

    sip_user_id: uuid.UUID
    username: str
    contact: str = Field(description="The Contact URI your phone registered.")
    expires_at: datetime
    expires_in: int = Field(description="Seconds left now.")
    registered_at: datetime = Field(description="The last REGISTER that refreshed it.")
    transport: Literal["udp", "tcp", "tls"]
    source: str = Field(description="host:port the REGISTER came from.")
    target: str = Field(
        description="host:port calls are sent to: the source when the phone is behind NAT."
    )
    nat: bool = Field(description="Whether calls go to the source rather than the Contact.")
    user_agent: str | None = None


class RegistrationList(BaseModel):
    items: list[Registration] = Field(description="By username, then contact.")
