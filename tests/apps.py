"""switch_api and customer_api apps for tests, built once per test session and database.

Building a FastAPI app is cheap, but its first request compiles every route it walks past
(~10 ms each): one app per test would cost seconds across the suite. So each API gets one app
per database back end, and each test runs its lifespan afresh (new engine, new bus connector,
the built-in roles ensured) and resets the shared fake clock. Import these fixtures into a
``conftest.py`` to use them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from libs.db import Database
from services.customer_api.app import create_app as create_customer_app
from services.customer_api.config import CustomerApiSettings
from services.switch_api.app import create_app as create_switch_app
from services.switch_api.config import SwitchApiSettings
from tests.identity.factories import FakeClock, identity_settings, unreachable_nats

__all__ = [
    "client_for",
    "clock",
    "customer",
    "customer_app",
    "identity_config",
    "shared_clock",
    "switch",
    "switch_app",
]


@pytest.fixture(scope="session")
def identity_config() -> dict[str, Any]:
    """The identity settings both APIs share (same keys, as in production)."""
    return identity_settings()


@pytest.fixture(scope="session")
def shared_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clock(shared_clock: FakeClock) -> FakeClock:
    """The apps' clock, set to the real time (whole seconds) at the start of each test."""
    shared_clock.now = FakeClock().now
    return shared_clock


@pytest.fixture(scope="session")
def _apps() -> dict[str, FastAPI]:
    """The apps built so far, by API and database URL."""
    return {}


def _app(
    cache: dict[str, FastAPI], kind: str, url: str, identity: dict[str, Any], clock: FakeClock
) -> FastAPI:
    key = f"{kind}:{url}"
    if key not in cache:
        common: dict[str, Any] = {
            "environment": "test",
            "database": {"url": url},
            "identity": identity,
            "nats": unreachable_nats(),
        }
        cache[key] = (
            create_switch_app(SwitchApiSettings(**common), clock=clock)
            if kind == "switch"
            else create_customer_app(CustomerApiSettings(**common), clock=clock)
        )
    return cache[key]


@pytest.fixture
async def switch_app(
    _apps: dict[str, FastAPI],
    database: Database,
    database_url: str,
    clock: FakeClock,
    identity_config: dict[str, Any],
) -> AsyncIterator[FastAPI]:
    """switch_api on the test database, its lifespan running."""
    app = _app(_apps, "switch", database_url, identity_config, clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def customer_app(
    _apps: dict[str, FastAPI],
    database: Database,
    database_url: str,
    clock: FakeClock,
    identity_config: dict[str, Any],
) -> AsyncIterator[FastAPI]:
    """customer_api on the test database, its lifespan running."""
    app = _app(_apps, "customer", database_url, identity_config, clock)
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: FastAPI, source: str = "198.51.100.10") -> httpx.AsyncClient:
    """An HTTP client talking to ``app`` over ASGI, as if from ``source``."""
    transport = httpx.ASGITransport(app=app, client=(source, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://api")


@pytest.fixture
async def switch(switch_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An unauthenticated client of switch_api."""
    async with client_for(switch_app) as client:
        yield client


@pytest.fixture
async def customer(customer_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An unauthenticated client of customer_api."""
    async with client_for(customer_app) as client:
        yield client
