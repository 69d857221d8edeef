"""Configuration: carriers, IP authentication, SIP users, rewrites, rate cards, routes,
firewall, global settings; customers gain spend/duration limits, source ranges and notes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

New tables need no batch mode. The columns added to ``customers`` go through
``batch_alter_table``, which is a plain ``ALTER TABLE`` on PostgreSQL and a table copy on
SQLite; they carry server defaults so existing customers get "no limit" and empty lists.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.db.types import Money, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RATE_SCALE = 8  # libs.db.models.configuration.RATE_SCALE, frozen here


def _common() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def _enum(length: int = 16) -> sa.String:
    # The models use non-native enums: a VARCHAR on both back ends.
    return sa.String(length=length)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _index(table: str, column: str) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(
            sa.Column("daily_spend_limit", Money(scale=6), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("max_call_duration", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("source_ranges", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("notes", sa.Text(), nullable=False, server_default=""))

    op.create_table(
        "rate_cards",
        *_common(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("direction", _enum(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("precision", sa.Integer(), nullable=False),
        sa.Column("rounding", sa.String(length=16), nullable=False),
        sa.Column("default_initial", sa.Integer(), nullable=False),
        sa.Column("default_subsequent", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_cards")),
        sa.UniqueConstraint("name", name=op.f("uq_rate_cards_name")),
    )
    op.create_table(
        "rate_card_revisions",
        *_common(),
        sa.Column("rate_card_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("effective_from", UTCDateTime(), nullable=True),
        sa.Column("rate_count", sa.Integer(), nullable=False),
        _fk("rate_card_revisions", "rate_card_id", "rate_cards", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_card_revisions")),
        sa.UniqueConstraint(
            "rate_card_id",
            "effective_from",
            name=op.f("uq_rate_card_revisions_rate_card_id_effective_from"),
        ),
    )
    _index("rate_card_revisions", "rate_card_id")
    op.create_table(
        "rates",
        sa.Column("revision_id", sa.Uuid(), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("rate", Money(scale=RATE_SCALE), nullable=False),
        sa.Column("connection_fee", Money(scale=RATE_SCALE), nullable=False),
        sa.Column("initial_increment", sa.Integer(), nullable=False),
        sa.Column("subsequent_increment", sa.Integer(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["rate_card_revisions.id"],
            name=op.f("fk_rates_revision_id_rate_card_revisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("revision_id", "prefix", name=op.f("pk_rates")),
    )
    op.create_table(
        "carriers",
        *_common(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", _enum(), nullable=False),
        sa.Column("rate_card_id", sa.Uuid(), nullable=True),
        sa.Column("channel_limit", sa.Integer(), nullable=False),
        sa.Column("cps_limit", sa.Integer(), nullable=False),
        sa.Column("first_reply_timeout", sa.Float(), nullable=False),
        sa.Column("post_dial_delay_timeout", sa.Float(), nullable=False),
        sa.Column("ring_timeout", sa.Float(), nullable=False),
        sa.Column("failover_codes", sa.JSON(), nullable=False),
        sa.Column("stop_codes", sa.JSON(), nullable=False),
        sa.Column("tech_prefix", sa.String(length=64), nullable=False),
        sa.Column("pai_policy", _enum(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "channel_limit >= 0", name=op.f("ck_carriers_channel_limit_not_negative")
        ),
        sa.CheckConstraint("cps_limit >= 0", name=op.f("ck_carriers_cps_limit_not_negative")),
        _fk("carriers", "rate_card_id", "rate_cards", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carriers")),
        sa.UniqueConstraint("name", name=op.f("uq_carriers_name")),
    )
    _index("carriers", "rate_card_id")
    op.create_table(
        "ip_auth_entries",
        *_common(),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("carrier_id", sa.Uuid(), nullable=True),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("direction", _enum(), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("transport", _enum(), nullable=False),
        sa.Column("tech_prefix", sa.String(length=64), nullable=False),
        sa.Column("cli_auth", sa.Boolean(), nullable=False),
        sa.Column("channel_limit", sa.Integer(), nullable=False),
        sa.Column("cps_limit", sa.Integer(), nullable=False),
        sa.Column("force_nat", sa.Boolean(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=True),
        sa.Column("password_ciphertext", sa.Text(), nullable=True),
        sa.Column("restricted_codecs", sa.JSON(), nullable=False),
        sa.Column("media_zone_id", sa.Uuid(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "(customer_id IS NULL) <> (carrier_id IS NULL)",
            name=op.f("ck_ip_auth_entries_one_owner"),
        ),
        _fk("ip_auth_entries", "customer_id", "customers", "CASCADE"),
        _fk("ip_auth_entries", "carrier_id", "carriers", "CASCADE"),
        _fk("ip_auth_entries", "media_zone_id", "zones", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ip_auth_entries")),
    )
    for column in ("customer_id", "carrier_id", "media_zone_id"):
        _index("ip_auth_entries", column)
    op.create_table(
        "sip_users",
        *_common(),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("realm", sa.String(length=128), nullable=False),
        sa.Column("ha1_md5", sa.String(length=32), nullable=False),
        sa.Column("ha1_sha256", sa.String(length=64), nullable=False),
        sa.Column("channel_limit", sa.Integer(), nullable=False),
        sa.Column("cps_limit", sa.Integer(), nullable=False),
        sa.Column("allowed_sources", sa.JSON(), nullable=False),
        sa.Column("calls_outside_allow_list", sa.Integer(), nullable=False),
        sa.Column("nat_ping", _enum(), nullable=False),
        sa.Column("retain_did", sa.Boolean(), nullable=False),
        sa.Column("transport", _enum(), nullable=False),
        sa.Column("restricted_codecs", sa.JSON(), nullable=False),
        _fk("sip_users", "customer_id", "customers", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sip_users")),
        sa.UniqueConstraint(
            "customer_id", "username", name=op.f("uq_sip_users_customer_id_username")
        ),
    )
    _index("sip_users", "customer_id")
    op.create_table(
        "rewrite_rules",
        *_common(),
        sa.Column("ip_auth_id", sa.Uuid(), nullable=True),
        sa.Column("sip_user_id", sa.Uuid(), nullable=True),
        sa.Column("target", _enum(), nullable=False),
        sa.Column("kind", _enum(), nullable=False),
        sa.Column("match", sa.String(length=1024), nullable=False),
        sa.Column("replacement", sa.String(length=1024), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(ip_auth_id IS NULL) <> (sip_user_id IS NULL)",
            name=op.f("ck_rewrite_rules_one_owner"),
        ),
        _fk("rewrite_rules", "ip_auth_id", "ip_auth_entries", "CASCADE"),
        _fk("rewrite_rules", "sip_user_id", "sip_users", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rewrite_rules")),
    )
    _index("rewrite_rules", "ip_auth_id")
    _index("rewrite_rules", "sip_user_id")
    op.create_table(
        "routes",
        *_common(),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tech_prefix", sa.String(length=64), nullable=False),
        sa.Column("dial_kind", _enum(), nullable=False),
        sa.Column("dial_pattern", sa.String(length=1024), nullable=False),
        sa.Column("cli_kind", _enum(), nullable=True),
        sa.Column("cli_pattern", sa.String(length=1024), nullable=True),
        sa.Column("rate_card_id", sa.Uuid(), nullable=False),
        sa.Column("strategy", _enum(), nullable=False),
        sa.Column("carriers", sa.JSON(), nullable=False),
        sa.Column("excluded_carrier_ids", sa.JSON(), nullable=False),
        sa.Column("media_zone_id", sa.Uuid(), nullable=True),
        sa.Column("media_mode", _enum(), nullable=False),
        sa.Column("max_duration", sa.Integer(), nullable=True),
        sa.Column("channel_limit", sa.Integer(), nullable=False),
        sa.Column("cps_limit", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("allow_below_cost", sa.Boolean(), nullable=False),
        _fk("routes", "customer_id", "customers", "CASCADE"),
        _fk("routes", "rate_card_id", "rate_cards", "RESTRICT"),
        _fk("routes", "media_zone_id", "zones", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routes")),
    )
    for column in ("customer_id", "rate_card_id", "media_zone_id"):
        _index("routes", column)
    op.create_table(
        "firewall_rules",
        *_common(),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("action", _enum(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", _enum(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firewall_rules")),
        sa.UniqueConstraint("network", name=op.f("uq_firewall_rules_network")),
    )
    _index("firewall_rules", "expires_at")
    op.create_table(
        "switch_settings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("platform_channel_limit", sa.Integer(), nullable=False),
        sa.Column("flood_max_requests", sa.Integer(), nullable=False),
        sa.Column("flood_window_seconds", sa.Integer(), nullable=False),
        sa.Column("flood_block_seconds", sa.Integer(), nullable=False),
        sa.Column("auth_failure_max", sa.Integer(), nullable=False),
        sa.Column("auth_failure_window_seconds", sa.Integer(), nullable=False),
        sa.Column("auth_failure_block_seconds", sa.Integer(), nullable=False),
        sa.Column("first_reply_timeout", sa.Float(), nullable=False),
        sa.Column("post_dial_delay_timeout", sa.Float(), nullable=False),
        sa.Column("ring_timeout", sa.Float(), nullable=False),
        sa.Column("sip_realm", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_switch_settings")),
    )


def downgrade() -> None:
    # Children first; dropping a table drops its indexes and constraints on both back ends.
    for table in (
        "switch_settings",
        "firewall_rules",
        "routes",
        "rewrite_rules",
        "sip_users",
        "ip_auth_entries",
        "carriers",
        "rates",
        "rate_card_revisions",
        "rate_cards",
    ):
        op.drop_table(table)
    with op.batch_alter_table("customers") as batch:
        for column in ("notes", "source_ranges", "max_call_duration", "daily_spend_limit"):
            batch.drop_column(column)
