"""Fixtures shared by the whole suite: real databases and a real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from libs.db import Base, Database
from libs.db.migrate import upgrade
from libs.platform.natsd import NatsServer
from tests.databases import backends, fresh_database

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session", params=backends())
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database of each back end, one per test session."""
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        upgrade(url)
        yield url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """The session's database, emptied after each test (tests stay independent)."""
    db = Database(database_url, pool_size=2)
    try:
        yield db
    finally:
        async with db.session() as session:
            for table in reversed(Base.metadata.sorted_tables):
                await session.execute(delete(table))
            await session.commit()
        await db.dispose()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A real nats-server with JetStream for the session, on a port it picks itself.

    Started from the main thread on purpose: its PR_SET_PDEATHSIG follows the starting thread.
    """
    server = NatsServer(store_dir=tmp_path_factory.mktemp("nats") / "js", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()
