"""Fixtures for customer_api: the operator's switch_api and customer_api on one database, and
customer accounts with a logged-in user each."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from libs.bus import BusConnector, provision
from libs.db import Database
from libs.db.models import CustomerUserRole
from libs.liveconfig import ConfigView
from libs.liveconfig.models import CONFIG_KINDS
from libs.platform.natsd import NatsServer
from services.customer_api.app import create_app
from services.customer_api.config import CustomerApiSettings
from tests.apps import (
    _apps,
    client_for,
    clock,
    customer,
    customer_app,
    identity_config,
    shared_clock,
    switch_app,
)
from tests.customer_api.factories import Account
from tests.identity.factories import FakeClock, bearer, login, make_customer_user, make_operator
from tests.switch_api import factories

__all__ = [
    "_apps",
    "accounts",
    "clock",
    "customer",
    "customer_app",
    "identity_config",
    "operator",
    "portal",
    "shared_clock",
    "switch_app",
]

NewAccount = Callable[..., Awaitable[Account]]


@pytest.fixture
async def operator(switch_app: FastAPI, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """switch_api, logged in as an operator with the ``owner`` role."""
    async with client_for(switch_app, "192.0.2.1") as client:
        owner = await make_operator(switch_app)
        tokens = await login(client, owner, clock)
        client.headers.update(bearer(tokens["access_token"]))
        yield client


@pytest.fixture
async def accounts(
    customer_app: FastAPI, operator: httpx.AsyncClient, clock: FakeClock
) -> AsyncIterator[NewAccount]:
    """Makes a customer (through switch_api) with a user logged in to customer_api."""
    async with AsyncExitStack() as stack:

        async def new(
            *, role: CustomerUserRole = CustomerUserRole.ADMIN, **fields: object
        ) -> Account:
            customer = await factories.customer(operator, **fields)
            person = await make_customer_user(
                customer_app, customer_id=uuid.UUID(customer["id"]), role=role
            )
            client = await stack.enter_async_context(client_for(customer_app))
            tokens = await login(client, person, clock)
            client.headers.update(bearer(tokens["access_token"]))
            return Account(customer["id"], client, operator, person, customer_app.state.database)

        yield new


@dataclass
class Portal:
    """customer_api on a nats-server of its own, with a logged-in admin of a customer."""

    app: FastAPI
    client: httpx.AsyncClient
    #: The test's own connection to the nats-server (as a switch node would have).
    connector: BusConnector
    #: A live-configuration view of every kind, loaded (what the nodes see).
    view: ConfigView
    customer_id: uuid.UUID


@pytest.fixture
async def portal(
    tmp_path: Path,
    database: Database,
    database_url: str,
    identity_config: dict[str, Any],
    clock: FakeClock,
) -> AsyncIterator[Portal]:
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        connector = BusConnector(server.url, name="config-view")
        connector.start()
        try:
            await provision((await connector.wait_connected(10)).js)
            settings = CustomerApiSettings(
                environment="test",
                database={"url": database_url},
                identity=identity_config,
                nats={"servers": [server.url]},
            )
            app = create_app(settings, clock=clock)
            async with app.router.lifespan_context(app), client_for(app) as client:
                await app.state.bus.wait_connected(10)
                person = await make_customer_user(app)
                client.headers.update(bearer((await login(client, person, clock))["access_token"]))
                view = ConfigView(connector, CONFIG_KINDS)
                view.start()
                try:
                    await asyncio.wait_for(view.loaded.wait(), 10)
                    assert person.customer_id is not None
                    yield Portal(app, client, connector, view, person.customer_id)
                finally:
                    await view.stop()
        finally:
            await connector.close()
