"""Customer portal: the operator's per-customer permission to edit IP authentication.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

``customers.ip_auth_self_service`` lets a customer's users add, change and remove their own IP
authentication entries through customer_api; off by default (the reference's portal shows
them read-only), so existing customers keep today's behaviour.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(
            sa.Column(
                "ip_auth_self_service", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("ip_auth_self_service")
