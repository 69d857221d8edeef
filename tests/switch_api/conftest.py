from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.apps import _apps, clock, identity_config, shared_clock, switch_app
from tests.identity.factories import FakeClock, bearer, login, make_operator

__all__ = ["_apps", "api", "clock", "identity_config", "shared_clock", "switch_app"]


@pytest.fixture
async def api(switch_app: FastAPI, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """switch_api over ASGI on the test database (its lifespan runs as in production),
    logged in as an operator with the built-in ``owner`` role."""
    transport = httpx.ASGITransport(app=switch_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://switch") as client:
        owner = await make_operator(switch_app)
        tokens = await login(client, owner, clock)
        client.headers.update(bearer(tokens["access_token"]))
        yield client
