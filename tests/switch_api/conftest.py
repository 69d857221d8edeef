from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from libs.db import Database
from services.switch_api.app import create_app
from services.switch_api.config import SwitchApiSettings


@pytest.fixture
async def api(database: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """switch_api over ASGI on the test database (its lifespan runs as in production)."""
    app = create_app(SwitchApiSettings(environment="test", database={"url": database_url}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://switch") as client:
            yield client
