from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.db.models import CustomerUserRole
from libs.web.identity.schemas import AllowList, Email

Name = Annotated[str, Field(max_length=200, examples=["Jo Example"])]


class CustomerUserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    email: Email
    name: Name = ""
    role: CustomerUserRole = CustomerUserRole.USER
    allowed_sources: AllowList = []


class CustomerUserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    role: CustomerUserRole | None = None
    allowed_sources: AllowList | None = None
    disabled: bool | None = None


class CustomerUser(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    email: str
    name: str
    role: CustomerUserRole
    totp_enrolled: bool
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


class CustomerUserCreated(BaseModel):
    user: CustomerUser
    one_time_password: str = Field(description="Must be changed at the first login.")
