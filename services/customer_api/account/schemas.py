from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from libs.db.models import CustomerStatus
from libs.web.fields import Amount


class Account(BaseModel):
    """Your customer account as the switch sees it now."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3c9d8f0e-2b1a-4c5d-9e8f-7a6b5c4d3e2f",
                    "name": "Acme Telecom",
                    "status": "active",
                    "currency": "EUR",
                    "balance": "120.500000",
                    "debit_limit": "50.000000",
                    "available": "170.500000",
                    "daily_spend_limit": "0.000000",
                    "channel_limit": 100,
                    "cps_limit": 10,
                    "max_call_duration": 0,
                    "source_ranges": ["198.51.100.0/24"],
                    "sip_channels_allocated": 60,
                    "sip_channels_available": 40,
                    "live_channels": 12,
                    "ip_auth_self_service": False,
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    status: CustomerStatus
    currency: str = Field(description="ISO 4217 code of every amount on the account.")
    balance: Amount = Field(description="Prepaid funds (negative when using credit).")
    debit_limit: Amount = Field(description="How far below zero the balance may go.")
    available: Amount = Field(description="balance + debit_limit: what calls may still spend.")
    daily_spend_limit: Amount = Field(description="Spend allowed per UTC day; 0 = no limit.")
    channel_limit: int = Field(description="Concurrent calls allowed; 0 = no limit.")
    cps_limit: int = Field(description="New calls per second allowed; 0 = no limit.")
    max_call_duration: int = Field(description="Longest call in seconds; 0 = no limit.")
    source_ranges: list[str] = Field(description="Where your calls may come from; [] = anywhere.")
    sip_channels_allocated: int = Field(description="Channels your SIP users hold together.")
    sip_channels_available: int | None = Field(
        description="Channels you may still give SIP users (null: no account channel limit)."
    )
    live_channels: int | None = Field(
        description="Calls in progress now, across every switch node (null while the nodes "
        "cannot be asked)."
    )
    ip_auth_self_service: bool = Field(
        description="You may add, change and remove your IP authentication entries."
    )
