"""The one Alembic history upgrades and downgrades on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

import libs.db.models  # noqa: F401  (registers the tables)
from libs.db import Base, create_engine
from libs.db.migrate import downgrade, upgrade
from tests.databases import backends, fresh_database


def _inspect(url: str) -> tuple[set[str], list[object], str | None]:
    async def run() -> tuple[set[str], list[object], str | None]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
                diff = await connection.run_sync(
                    lambda c: compare_metadata(
                        MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                    )
                )
                version = None
                if "alembic_version" in tables:
                    version = await connection.scalar(
                        text("SELECT version_num FROM alembic_version")
                    )
                return tables, diff, version
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.parametrize("backend", backends())
def test_upgrade_to_head_then_downgrade_to_base(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        upgrade(url)
        tables, diff, head = _inspect(url)
        assert {"customers", "zones", "operators", "api_keys", "audit_events"} <= tables
        assert {
            "carriers",
            "ip_auth_entries",
            "sip_users",
            "rewrite_rules",
            "rate_cards",
            "rate_card_revisions",
            "rates",
            "routes",
            "firewall_rules",
            "switch_settings",
        } <= tables
        assert {"cdrs", "ledger_entries", "daily_spend"} <= tables
        lookup = {"lookup_datasets", "lookup_dataset_chunks", "lookup_access", "lookup_usage"}
        assert lookup <= tables
        assert diff == [], f"models and migrations disagree: {diff}"
        assert head is not None

        downgrade(url, "base")
        tables, _, version = _inspect(url)
        assert tables <= {"alembic_version"}
        assert version is None

        upgrade(url)  # and up again: a downgrade leaves nothing behind that blocks it
        assert _inspect(url)[2] == head
