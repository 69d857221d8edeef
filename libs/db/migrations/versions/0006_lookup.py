"""Lookups: datasets (LRN, CNAM, do-not-call) stored compiled in chunks, lookup_api access
(rate limit and daily quota per API key) and daily usage.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.db.types import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lookup_datasets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("blob_size", sa.BigInteger(), nullable=False),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "row_count >= 0", name=op.f("ck_lookup_datasets_row_count_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lookup_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_lookup_datasets_name")),
    )
    op.create_table(
        "lookup_dataset_chunks",
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["lookup_datasets.id"],
            name=op.f("fk_lookup_dataset_chunks_dataset_id_lookup_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", "seq", name=op.f("pk_lookup_dataset_chunks")),
    )
    op.create_table(
        "lookup_access",
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("requests_per_second", sa.Integer(), nullable=False),
        sa.Column("daily_quota", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "requests_per_second >= 0", name=op.f("ck_lookup_access_rps_not_negative")
        ),
        sa.CheckConstraint(
            "daily_quota >= 0", name=op.f("ck_lookup_access_daily_quota_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_lookup_access_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", name=op.f("pk_lookup_access")),
    )
    op.create_table(
        "lookup_usage",
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("refused", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_lookup_usage_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", "day", name=op.f("pk_lookup_usage")),
    )


def downgrade() -> None:
    op.drop_table("lookup_usage")
    op.drop_table("lookup_access")
    op.drop_table("lookup_dataset_chunks")
    op.drop_table("lookup_datasets")
