"""Fixtures for end-to-end tests: switch_api and customer_api on the test database, an operator
logged in to switch_api."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.apps import (
    _apps,
    client_for,
    clock,
    customer_app,
    identity_config,
    shared_clock,
    switch_app,
)
from tests.identity.factories import FakeClock, bearer, login, make_operator

__all__ = [
    "_apps",
    "clock",
    "customer_app",
    "identity_config",
    "operator",
    "shared_clock",
    "switch_app",
]


@pytest.fixture
async def operator(switch_app: FastAPI, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """switch_api, logged in as an operator with the ``owner`` role."""
    async with client_for(switch_app, "192.0.2.1") as client:
        owner = await make_operator(switch_app)
        tokens = await login(client, owner, clock)
        client.headers.update(bearer(tokens["access_token"]))
        yield client
