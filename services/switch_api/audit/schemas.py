from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEvent(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    actor_kind: str = Field(
        description="`operator`, `customer_user`, `api_key`, `system` or `anonymous`."
    )
    actor_id: str | None
    actor_label: str | None = Field(description="The email, or the API key's name.")
    api_key_id: uuid.UUID | None
    tenant_id: uuid.UUID | None = Field(description="The customer, for customers' users/keys.")
    source_address: str | None
    action: str = Field(examples=["customer.updated", "auth.login"])
    object_type: str | None
    object_id: str | None
    outcome: str = Field(description="`success`, or why it failed (`bad_password`, …).")
    diff: dict[str, Any] | None = Field(
        description='`{"field": {"old": …, "new": …}}`; secrets show as "[redacted]".'
    )
    correlation_id: str | None
