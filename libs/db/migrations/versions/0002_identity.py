"""Identity: operators and roles, customers' users, sessions, API keys, throttles, audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Only new tables, so the same operations run on SQLite and PostgreSQL without batch mode. The
built-in roles are not inserted here: the APIs and ``tandem admin create`` ensure them at start,
so a role definition changed in code reaches existing installations too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.db.types import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    ]


def _person() -> list[sa.Column[object]]:
    """The columns operators and customer users share (``libs.db.models.identity._Person``)."""
    return [
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=512), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("totp_secret", sa.Text(), nullable=True),
        sa.Column("totp_pending_secret", sa.Text(), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("allowed_sources", sa.JSON(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", UTCDateTime(), nullable=True),
    ]


def _owner(table: str, other: str) -> list[sa.Column[object] | sa.Constraint]:
    """``operator_id`` or ``<other>_id``: exactly one of them is set."""
    return [
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column(f"{other}_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            f"(operator_id IS NULL) <> ({other}_id IS NULL)", name=op.f(f"ck_{table}_one_owner")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f(f"fk_{table}_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            [f"{other}_id"],
            [f"{other}s.id"],
            name=op.f(f"fk_{table}_{other}_id_{other}s"),
            ondelete="CASCADE",
        ),
    ]


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{columns[0]}"), table, list(columns))


def upgrade() -> None:
    op.create_table(
        "operator_roles",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_roles")),
        sa.UniqueConstraint("name", name=op.f("uq_operator_roles_name")),
    )
    op.create_table(
        "operators",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        *_person(),
        sa.Column("role_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["operator_roles.id"],
            name=op.f("fk_operators_role_id_operator_roles"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("email", name=op.f("uq_operators_email")),
    )
    _index("operators", "role_id")
    op.create_table(
        "customer_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        *_person(),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_users_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_users")),
        sa.UniqueConstraint("email", name=op.f("uq_customer_users_email")),
    )
    _index("customer_users", "customer_id")
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("recovery_codes", "customer_user"),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    _index("recovery_codes", "operator_id")
    _index("recovery_codes", "customer_user_id")
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("auth_sessions", "customer_user"),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("source_address", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("last_refreshed_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
    )
    _index("auth_sessions", "operator_id")
    _index("auth_sessions", "customer_user_id")
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("lookup_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("rotated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_sessions.id"],
            name=op.f("fk_refresh_tokens_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("lookup_id", name=op.f("uq_refresh_tokens_lookup_id")),
    )
    _index("refresh_tokens", "session_id")
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        *_owner("api_keys", "customer"),
        sa.Column("lookup_id", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("allowed_sources", sa.JSON(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("lookup_id", name=op.f("uq_api_keys_lookup_id")),
    )
    _index("api_keys", "operator_id")
    _index("api_keys", "customer_id")
    op.create_table(
        "login_throttles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UTCDateTime(), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttles")),
        sa.UniqueConstraint("key", name=op.f("uq_login_throttles_key")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_kind", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("actor_label", sa.String(length=320), nullable=True),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("source_address", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=True),
        sa.Column("correlation_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_at_id", "audit_events", ["at", "id"])
    op.create_index("ix_audit_events_object", "audit_events", ["object_type", "object_id"])
    op.create_index("ix_audit_events_actor", "audit_events", ["actor_id"])
    _index("audit_events", "tenant_id")


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints on both back ends.
    for table in (
        "audit_events",
        "login_throttles",
        "api_keys",
        "refresh_tokens",
        "auth_sessions",
        "recovery_codes",
        "customer_users",
        "operators",
        "operator_roles",
    ):
        op.drop_table(table)
