"""Fresh databases for tests: SQLite always, PostgreSQL when one is reachable.

``TANDEM_TEST_POSTGRES_URL`` (e.g. ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``)
names a server on which the tests may create and drop their own databases; ``.ci/run`` sets it
when 127.0.0.1:5432 answers. Each test run gets databases no other run shares.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy import make_url

POSTGRES_URL = os.environ.get("TANDEM_TEST_POSTGRES_URL", "")


def backends() -> list[str]:
    """The back ends the database tests run on."""
    return ["sqlite", "postgresql"]


@contextmanager
def fresh_database(backend: str, workdir: Path) -> Iterator[str]:
    """Create an empty database on ``backend``, yield its SQLAlchemy URL, then drop it."""
    if backend == "sqlite":
        path = workdir / f"tandem-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite+aiosqlite:///{path}"
        return
    if not POSTGRES_URL:
        import pytest

        pytest.skip("PostgreSQL tests need TANDEM_TEST_POSTGRES_URL (.ci/run sets it)")
    admin = make_url(POSTGRES_URL)
    name = f"tandem_test_{uuid.uuid4().hex[:12]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    asyncio.run(_admin(dsn, f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
