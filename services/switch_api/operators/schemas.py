from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.web.identity.schemas import AllowList, Email

Name = Annotated[str, Field(max_length=200, examples=["Night shift NOC"])]


class OperatorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Name = ""
    role_id: uuid.UUID
    allowed_sources: AllowList = []


class OperatorUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    role_id: uuid.UUID | None = None
    allowed_sources: AllowList | None = None
    disabled: bool | None = None


class Operator(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    role_id: uuid.UUID
    totp_enrolled: bool = Field(description="Whether the second factor is set up.")
    must_change_password: bool
    allowed_sources: list[str]
    disabled: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        if hasattr(value, "totp_secret"):
            fields = set(cls.model_fields) - {"totp_enrolled"}
            data = {name: getattr(value, name) for name in fields}
            data["totp_enrolled"] = value.totp_secret is not None
            return data
        return value


class OperatorCreated(BaseModel):
    """The new operator and the one-time password to hand over (shown this once)."""

    operator: Operator
    one_time_password: str = Field(
        description="Machine-generated; must be changed at the first login, before TOTP enrolment."
    )
