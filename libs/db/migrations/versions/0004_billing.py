"""Billing: rated CDRs, the ledger, spend per day; customers gain a balance version.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

``customers.balance_version`` starts at each customer's ``version``: until now the published
``balance`` objects carried the customer's version, and a node ignores a publish older than
the one it holds, so the new counter must not start below it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.db.types import Money, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BALANCE_SCALE = 6  # libs.db.models.billing.BALANCE_SCALE, frozen here
RATE_SCALE = 8


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(
            sa.Column("balance_version", sa.Integer(), nullable=False, server_default="1")
        )
    op.execute("UPDATE customers SET balance_version = version")
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("balance_version", server_default=None)

    op.create_table(
        "cdrs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("sip_call_id", sa.String(length=255), nullable=False),
        sa.Column("node_id", sa.String(length=128), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("source_address", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("auth_method", sa.String(length=16), nullable=True),
        sa.Column("ipauth_id", sa.Uuid(), nullable=True),
        sa.Column("sip_user_id", sa.Uuid(), nullable=True),
        sa.Column("caller_received", sa.String(length=128), nullable=False),
        sa.Column("callee_received", sa.String(length=128), nullable=False),
        sa.Column("caller_sent", sa.String(length=128), nullable=False),
        sa.Column("callee_sent", sa.String(length=128), nullable=False),
        sa.Column("route_id", sa.Uuid(), nullable=True),
        sa.Column("sell_card_id", sa.Uuid(), nullable=True),
        sa.Column("sell_prefix", sa.String(length=32), nullable=True),
        sa.Column("destination", sa.String(length=200), nullable=True),
        sa.Column("sell_rate", Money(scale=RATE_SCALE), nullable=True),
        sa.Column("connection_fee", Money(scale=RATE_SCALE), nullable=True),
        sa.Column("initial_increment", sa.Integer(), nullable=True),
        sa.Column("subsequent_increment", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("carrier_id", sa.Uuid(), nullable=True),
        sa.Column("gateway", sa.String(length=255), nullable=True),
        sa.Column("buy_card_id", sa.Uuid(), nullable=True),
        sa.Column("buy_prefix", sa.String(length=32), nullable=True),
        sa.Column("buy_rate", Money(scale=RATE_SCALE), nullable=True),
        sa.Column("cost_currency", sa.String(length=3), nullable=True),
        sa.Column("pdd_ms", sa.Integer(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("billed_seconds", sa.Integer(), nullable=False),
        sa.Column("cost_seconds", sa.Integer(), nullable=False),
        sa.Column("sip_code", sa.Integer(), nullable=False),
        sa.Column("sip_reason", sa.String(length=255), nullable=False),
        sa.Column("release_reason", sa.String(length=32), nullable=False),
        sa.Column("released_by", sa.String(length=16), nullable=False),
        sa.Column("charge", Money(scale=BALANCE_SCALE), nullable=False),
        sa.Column("cost", Money(scale=BALANCE_SCALE), nullable=False),
        sa.Column("attempts", sa.JSON(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("rated_at", UTCDateTime(), nullable=False),
        sa.Column("rerated_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cdrs")),
        sa.UniqueConstraint("call_id", name=op.f("uq_cdrs_call_id")),
    )
    op.create_index("ix_cdrs_started_at_id", "cdrs", ["started_at", "id"])
    op.create_index(
        "ix_cdrs_customer_id_started_at_id", "cdrs", ["customer_id", "started_at", "id"]
    )
    op.create_index("ix_cdrs_carrier_id_started_at_id", "cdrs", ["carrier_id", "started_at", "id"])

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", Money(scale=BALANCE_SCALE), nullable=False),
        sa.Column("balance_after", Money(scale=BALANCE_SCALE), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index(
        "ix_ledger_entries_customer_id_created_at_id",
        "ledger_entries",
        ["customer_id", "created_at", "id"],
    )
    op.create_index(op.f("ix_ledger_entries_call_id"), "ledger_entries", ["call_id"])

    op.create_table(
        "daily_spend",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("amount", Money(scale=BALANCE_SCALE), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_daily_spend_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "day", name=op.f("pk_daily_spend")),
    )


def downgrade() -> None:
    for table in ("daily_spend", "ledger_entries", "cdrs"):
        op.drop_table(table)
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("balance_version")
