"""Security plane: automatic firewall blocks keep their evidence and offence count; customers
may override the flood limit.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

The columns carry server defaults so
existing rules read as "no evidence, never blocked automatically" and existing customers use
the global flood limit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("firewall_rules") as batch:
        batch.add_column(sa.Column("evidence", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("offences", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("flood_max_requests", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("flood_max_requests")
    with op.batch_alter_table("firewall_rules") as batch:
        batch.drop_column("offences")
        batch.drop_column("evidence")
