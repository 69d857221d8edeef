"""Zones and customers: the first slice of the domain.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.db.types import Money, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "zones",
        *_audit_columns(),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zones")),
        sa.UniqueConstraint("name", name=op.f("uq_zones_name")),
    )
    op.create_table(
        "customers",
        *_audit_columns(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", Money(scale=6), nullable=False),
        sa.Column("debit_limit", Money(scale=6), nullable=False),
        sa.Column("channel_limit", sa.Integer(), nullable=False),
        sa.Column("cps_limit", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "channel_limit >= 0", name=op.f("ck_customers_channel_limit_not_negative")
        ),
        sa.CheckConstraint("cps_limit >= 0", name=op.f("ck_customers_cps_limit_not_negative")),
        sa.CheckConstraint("debit_limit >= 0", name=op.f("ck_customers_debit_limit_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("name", name=op.f("uq_customers_name")),
    )
    op.create_index("ix_customers_created_at_id", "customers", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_customers_created_at_id", table_name="customers")
    op.drop_table("customers")
    op.drop_table("zones")
