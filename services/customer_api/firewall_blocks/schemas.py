from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class FirewallBlock(BaseModel):
    """A block on (part of) your addresses."""

    id: uuid.UUID
    network: str = Field(description="The blocked address or network.")
    addresses: list[str] = Field(
        description="Your IP authentication addresses and source ranges it covers."
    )
    source: Literal["automatic", "manual"] = Field(
        description="`automatic`: the intrusion detection; `manual`: the operator."
    )
    kind: str | None = Field(
        None,
        description="Why an automatic block was made: `auth_failures`, `username_attack`, "
        "`username_enumeration`, `scanner` or `flood` (null for manual blocks).",
    )
    reason: str = Field(description="What the block is for.")
    created_at: datetime
    expires_at: datetime | None = Field(description="When it lifts by itself; null: permanent.")
    active: bool = Field(description="False once expired (kept as history).")


class FirewallBlockList(BaseModel):
    items: list[FirewallBlock] = Field(description="Newest first.")
