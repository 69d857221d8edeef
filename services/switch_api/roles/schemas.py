from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.identity.permissions import parse_permissions
from libs.web.identity.schemas import PermissionMap

RoleName = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$", examples=["billing clerk"])
]


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RoleName
    description: Annotated[str, Field(max_length=2000)] = ""
    permissions: PermissionMap


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RoleName | None = None
    description: Annotated[str | None, Field(max_length=2000)] = None
    permissions: PermissionMap | None = None


class Role(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    builtin: bool = Field(description="Built-in roles cannot be changed or deleted.")
    permissions: dict[str, str]
    created_at: datetime
    updated_at: datetime

    @field_validator("permissions", mode="before")
    @classmethod
    def _all_areas(cls, value: Any) -> dict[str, str]:
        return {area.value: access.value for area, access in parse_permissions(value).items()}
