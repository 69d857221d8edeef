from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class LoginThrottle(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str = Field(
        description="`source:<address>` (IPv6: its /64), or `account:<kind>:<SHA-256 of the "
        "email>`; unlock an account through its operator or customer user."
    )
    failures: int = Field(description="Consecutive failed logins.")
    last_failure_at: datetime | None
    locked_until: datetime | None = Field(description="Set after 10 or more failures.")
