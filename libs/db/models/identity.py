"""Identity: operators and their roles, customers' users, sessions, API keys, throttles, audit.

Secrets never appear here in the clear: passwords are Argon2id hashes made with an
off-database pepper, TOTP secrets are AES-GCM ciphertexts under an off-database key, refresh
tokens, API keys and recovery codes are SHA-256 digests of 80-256 random bits. Columns holding
them carry ``info=SECRET`` so the audit log records that they changed, never their value.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from libs.db.base import SECRET, UNAUDITED, Base, TimestampedMixin, UUIDPrimaryKeyMixin
from libs.db.types import UTCDateTime, utcnow

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "CustomerUser",
    "CustomerUserRole",
    "LoginThrottle",
    "Operator",
    "OperatorRole",
    "RecoveryCode",
    "RefreshToken",
]

EMAIL_LENGTH = 320  # RFC 5321: 64 (local part) + 1 + 255 (domain)
HASH_LENGTH = 512


def _enum(enum: type[StrEnum], length: int) -> Enum:
    return Enum(
        enum,
        native_enum=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class CustomerUserRole(StrEnum):
    """Mirrors :class:`libs.identity.permissions.CustomerRole` (the database's vocabulary)."""

    ADMIN = "admin"
    USER = "user"
    READ_ONLY = "read-only"


class OperatorRole(UUIDPrimaryKeyMixin, TimestampedMixin, Base):
    """A named set of rights: read/write per API area (``{"customers": "write", …}``)."""

    __tablename__ = "operator_roles"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: The built-in roles (owner, admin, read-only) cannot be changed or deleted.
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    permissions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class _Person:
    """What an operator and a customer's user share: credentials, second factor, allow list."""

    #: Normalised (trimmed, NFKC, case-folded): the login name and the password seasoning.
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), info=SECRET)
    #: Set for a machine-generated one-time password: only a password change is allowed.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    #: AES-GCM ciphertext of the enrolled TOTP secret, or None.
    totp_secret: Mapped[str | None] = mapped_column(Text, default=None, info=SECRET)
    #: Ciphertext of a secret being enrolled (until confirmed with a first valid code).
    totp_pending_secret: Mapped[str | None] = mapped_column(Text, default=None, info=SECRET)
    #: RFC 6238 time step of the last code accepted: that code and older ones are refused.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None, info=UNAUDITED)
    #: Source addresses/CIDRs this person may log in and act from; empty means anywhere.
    allowed_sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=None, info=UNAUDITED
    )


class Operator(UUIDPrimaryKeyMixin, TimestampedMixin, _Person, Base):
    """A person who administers the switch through switch_api (TOTP is mandatory)."""

    __tablename__ = "operators"

    role_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("operator_roles.id", ondelete="RESTRICT"), index=True
    )


class CustomerUser(UUIDPrimaryKeyMixin, TimestampedMixin, _Person, Base):
    """A person of a customer who logs in to customer_api (TOTP optional)."""

    __tablename__ = "customer_users"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[CustomerUserRole] = mapped_column(
        _enum(CustomerUserRole, 16), default=CustomerUserRole.USER
    )


class RecoveryCode(UUIDPrimaryKeyMixin, Base):
    """One unused single-use recovery code (its SHA-256 digest); deleted when used."""

    __tablename__ = "recovery_codes"
    __audited__ = False
    __table_args__ = (
        CheckConstraint("(operator_id IS NULL) <> (customer_user_id IS NULL)", name="one_owner"),
    )

    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("operators.id", ondelete="CASCADE"), index=True, default=None
    )
    customer_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customer_users.id", ondelete="CASCADE"), index=True, default=None
    )
    code_hash: Mapped[str] = mapped_column(String(64), info=SECRET)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthSession(UUIDPrimaryKeyMixin, Base):
    """A login: the family of refresh tokens it rotates through, revoked as one."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        CheckConstraint("(operator_id IS NULL) <> (customer_user_id IS NULL)", name="one_owner"),
    )

    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("operators.id", ondelete="CASCADE"), index=True, default=None
    )
    customer_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customer_users.id", ondelete="CASCADE"), index=True, default=None
    )
    #: Opened before the second factor was enrolled or the one-time password changed: such a
    #: session only reaches the enrolment endpoints, for its whole life.
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    source_address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=UNAUDITED)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_refreshed_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=None, info=UNAUDITED
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: ``logout``, ``refresh_token_reused``, ``password_changed`` …
    revoked_reason: Mapped[str | None] = mapped_column(String(64), default=None)


class RefreshToken(UUIDPrimaryKeyMixin, Base):
    """One refresh token of a session; used once, then ``rotated_at`` is set."""

    __tablename__ = "refresh_tokens"
    __audited__ = False

    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    lookup_id: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), info=SECRET)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set when the token was exchanged: presenting it again revokes the whole session.
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ApiKey(UUIDPrimaryKeyMixin, TimestampedMixin, Base):
    """A credential for automation: hashed, named, scoped, revocable, optionally IP-bound.

    Owned by an operator (usable on switch_api) or by a customer (on customer_api).
    """

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("(operator_id IS NULL) <> (customer_id IS NULL)", name="one_owner"),
    )

    lookup_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), info=SECRET)
    name: Mapped[str] = mapped_column(String(200))
    permissions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("operators.id", ondelete="CASCADE"), index=True, default=None
    )
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True, default=None
    )
    allowed_sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, info=UNAUDITED)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class LoginThrottle(UUIDPrimaryKeyMixin, Base):
    """Consecutive login failures of one account or one source address.

    ``key`` is ``account:<kind>:<SHA-256 of the normalised email>`` (hashed so that guesses at
    unknown addresses do not fill the table with attacker-chosen text) or ``source:<address>``
    (an IPv6 source counts as its /64).
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(200), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AuditEvent(UUIDPrimaryKeyMixin, Base):
    """Who did what, to which object, from where, and what changed (secrets redacted)."""

    __tablename__ = "audit_events"
    __audited__ = False
    __table_args__ = (
        Index("ix_audit_events_at_id", "at", "id"),
        Index("ix_audit_events_object", "object_type", "object_id"),
        Index("ix_audit_events_actor", "actor_id"),
    )

    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: ``operator``, ``customer_user``, ``api_key``, ``system`` or ``anonymous`` (a login).
    actor_kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str | None] = mapped_column(String(64), default=None)
    actor_label: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH), default=None)
    #: The key used, when the actor acted through an API key (its owner is the actor).
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    #: The customer account the actor belongs to (customer users and their keys).
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, index=True)
    source_address: Mapped[str | None] = mapped_column(String(64), default=None)
    #: ``customer.created``, ``operator.updated``, ``auth.login`` …
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str | None] = mapped_column(String(64), default=None)
    object_id: Mapped[str | None] = mapped_column(String(64), default=None)
    #: ``success``, or why it failed (``bad_password``, ``throttled`` …).
    outcome: Mapped[str] = mapped_column(String(64), default="success")
    #: ``{"field": {"old": …, "new": …}}``; secrets appear as ``"[redacted]"``.
    diff: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    correlation_id: Mapped[str | None] = mapped_column(String(128), default=None)
