from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Node(BaseModel):
    node_id: str
    role: str = Field(examples=["sip_core"])
    zone: str = Field(examples=["eu-west"])
    version: str
    started_at: datetime
    last_seen_at: datetime = Field(description="When its latest heartbeat was sent.")
    load: float = Field(description="Share of capacity in use, 0 to 1.")
    capacity: dict[str, float | int]
    draining: bool
    addresses: dict[str, str]
