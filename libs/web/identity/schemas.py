"""Request and response bodies of the auth and API-key endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.identity.permissions import Access, Area, parse_permissions
from libs.security.policy import MAX_PASSWORD_CHARS

Email = Annotated[str, Field(min_length=3, max_length=320, examples=["noc@carrier.example"])]
Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_CHARS)]
Code = Annotated[str, Field(min_length=6, max_length=16, examples=["492039"])]
AllowList = Annotated[
    list[Annotated[str, Field(max_length=64)]],
    Field(
        max_length=1000,
        description="Source addresses or CIDR networks allowed; empty means anywhere.",
        examples=[["203.0.113.0/24", "2001:db8::/48"]],
    ),
]
PermissionMap = Annotated[
    dict[Area, Access],
    Field(
        description="Access per area (`none`, `read`, `write`); areas left out get `none`.",
        examples=[{"customers": "write", "routing": "read"}],
    ),
]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    totp_code: Code | None = Field(None, description="The authenticator app's current code.")
    recovery_code: Annotated[str | None, Field(max_length=64)] = Field(
        None, description="A single-use recovery code, instead of a TOTP code."
    )


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: Annotated[str, Field(min_length=1, max_length=256)]


class Tokens(BaseModel):
    """A new access token (short-lived) and refresh token (single use, rotating)."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - RFC 6750's token type, not a secret
    expires_in: int = Field(description="Seconds the access token is valid.")
    refresh_token: str
    restrictions: list[str] = Field(
        description="Non-empty when the session may only complete its set-up "
        "(`password_change`, `totp_enrolment`, `login_again`)."
    )


class Me(BaseModel):
    """Who the credentials speak for, and what they may do."""

    kind: str
    user_id: uuid.UUID | None
    label: str
    tenant: uuid.UUID | None
    api_key_id: uuid.UUID | None
    permissions: dict[str, str]
    restrictions: list[str]
    source_address: str


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password
    new_password: Password = Field(
        description="8 to 256 characters (any, spaces and emoji included), not a known breached "
        "password, not containing your email or the product name."
    )


class TotpEnrolment(BaseModel):
    """Scan the QR code (or type the secret) into an authenticator app, then confirm."""

    secret: str = Field(description="Base32, for typing in by hand.")
    otpauth_uri: str
    qr_png_base64: str = Field(description="A PNG image of the QR code, base64.")


class TotpCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code


class RecoveryCodes(BaseModel):
    """Ten single-use codes for when the authenticator is lost: store them safely; shown once."""

    recovery_codes: list[str]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200, examples=["billing export"])]
    permissions: PermissionMap = {}
    allowed_sources: AllowList = []


class ApiKey(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    permissions: dict[str, str]
    allowed_sources: list[str]
    operator_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @field_validator("permissions", mode="before")
    @classmethod
    def _all_areas(cls, value: Any) -> dict[str, str]:
        return {area.value: access.value for area, access in parse_permissions(value).items()}


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The key itself: shown this once, store it now.")
