from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

ZONE_NAME = Field(
    min_length=1,
    max_length=63,
    pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
    description="Machine name (lower-case letters, digits and inner hyphens), e.g. `eu-west`.",
    examples=["eu-west"],
)


class ZoneCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ZONE_NAME
    description: str = Field("", max_length=2000, examples=["Frankfurt, two media relays"])


class ZoneUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = ZONE_NAME
    description: str | None = Field(None, max_length=2000)


class Zone(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
