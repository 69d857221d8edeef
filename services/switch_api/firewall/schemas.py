from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.db.models import FirewallAction, FirewallSource

Network = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="An IP address or CIDR network.",
        examples=["198.51.100.23"],
    ),
]
Reason = Annotated[str, Field(max_length=2000, examples=["SIP scanner (friendly-scanner)"])]


class FirewallRuleCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "network": "198.51.100.0/24",
                    "action": "block",
                    "reason": "INVITE flood",
                    "expires_at": "2030-01-01T00:00:00Z",
                }
            ]
        },
    )

    network: Network
    action: FirewallAction
    reason: Reason = ""
    source: FirewallSource = FirewallSource.MANUAL
    expires_at: AwareDatetime | None = Field(
        None, description="When the rule stops applying (future); omit for a permanent rule."
    )


class FirewallRuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: Network | None = None
    action: FirewallAction | None = None
    reason: Reason | None = None
    expires_at: AwareDatetime | None = Field(None, description="`null` makes it permanent.")


class FirewallRule(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    network: str
    action: FirewallAction
    reason: str
    source: FirewallSource
    expires_at: datetime | None
    evidence: dict[str, Any] = Field(
        description="What an automatic block was based on (counts, samples, reporting nodes)."
    )
    offences: int = Field(description="Times the IDS has blocked this network (0: manual).")
    expired: bool = Field(description="Past its expiry: no longer applied (kept for history).")
    version: int
    created_at: datetime
    updated_at: datetime
