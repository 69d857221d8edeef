"""Alembic environment: async engines, batch mode on SQLite, one history for both back ends."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import libs.db.models  # noqa: F401  (registers every table on the metadata)
from libs.db.base import Base
from libs.db.engine import create_engine

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(context.config.attributes["url"], pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
asyncio.run(_run_async())
