"""Who is asking: the authenticated principal of a request, and the actor of an audit entry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from libs.identity.permissions import Access, Area, Permissions, allows
from libs.security import PrincipalKind

__all__ = ["Actor", "ActorKind", "Principal", "Restriction"]


class Restriction(StrEnum):
    """Why a person's session reaches only the enrolment endpoints."""

    #: An operator without an enrolled second factor (TOTP is mandatory for operators).
    TOTP_ENROLMENT = "totp_enrolment"
    #: A machine-generated one-time password (bootstrap, reset) that must be replaced.
    PASSWORD_CHANGE = "password_change"  # noqa: S105 - a reason, not a password
    #: The session was opened under a restriction since lifted: log in again for a full one.
    LOGIN_AGAIN = "login_again"


class ActorKind(StrEnum):
    """Who an audit entry says acted."""

    OPERATOR = "operator"
    CUSTOMER_USER = "customer_user"
    API_KEY = "api_key"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Actor:
    """The who and where of an audit entry."""

    kind: ActorKind
    id: str | None = None
    label: str | None = None
    api_key_id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = None
    source_address: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a person's session or an API key, with its current rights.

    ``user_id`` is the operator or customer user (for an API key: the operator who owns it, or
    ``None`` for a customer's key); ``tenant`` is the customer account a customer principal is
    confined to. ``restrictions`` is non-empty for a person who must first enrol a second factor
    or change a one-time password.
    """

    kind: PrincipalKind
    user_id: uuid.UUID | None
    label: str
    permissions: Permissions
    source_address: str
    tenant: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    restrictions: frozenset[Restriction] = field(default_factory=frozenset)

    @property
    def is_api_key(self) -> bool:
        """True when the caller presented an API key rather than a person's access token."""
        return self.api_key_id is not None

    @property
    def restricted(self) -> bool:
        """True when only the enrolment endpoints are reachable."""
        return bool(self.restrictions)

    def can(self, area: Area, access: Access) -> bool:
        """True if the principal has at least ``access`` on ``area`` (and no restriction)."""
        return not self.restricted and allows(self.permissions, area, access)

    def actor(self, *, correlation_id: str | None = None) -> Actor:
        """The audit log's view of this principal."""
        if self.api_key_id is not None:
            kind, actor_id = ActorKind.API_KEY, str(self.api_key_id)
        elif self.kind is PrincipalKind.OPERATOR:
            kind, actor_id = ActorKind.OPERATOR, str(self.user_id)
        else:
            kind, actor_id = ActorKind.CUSTOMER_USER, str(self.user_id)
        return Actor(
            kind=kind,
            id=actor_id,
            label=self.label,
            api_key_id=self.api_key_id,
            tenant_id=self.tenant,
            source_address=self.source_address,
            correlation_id=correlation_id,
        )
