"""Fixtures for customer_api: the operator's switch_api and customer_api on one database, and
customer accounts with a logged-in user each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI

from libs.db.models import CustomerUserRole
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
