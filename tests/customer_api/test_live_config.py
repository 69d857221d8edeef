"""Writes through customer_api reach the switch nodes: a ConfigView on a real nats-server sees a
customer's SIP users and IP authentication entries appear, change and go, after each commit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from libs.bus import BusConnector, provision
from libs.db import Database
from libs.liveconfig import ConfigView
from libs.liveconfig.models import CONFIG_KINDS
from libs.platform.natsd import NatsServer
from libs.security import digest
from services.customer_api.app import create_app
from services.customer_api.config import CustomerApiSettings
from tests.apps import client_for
from tests.identity.factories import FakeClock, bearer, login, make_customer_user


async def eventually(predicate: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def portal(
    tmp_path: Path,
    database: Database,
    database_url: str,
    identity_config: dict[str, Any],
    clock: FakeClock,
) -> AsyncIterator[tuple[httpx.AsyncClient, ConfigView, uuid.UUID]]:
    """customer_api on a nats-server of its own, a logged-in admin, and a watching view."""
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
                    yield client, view, person.customer_id
                finally:
                    await view.stop()
        finally:
            await connector.close()


async def test_sip_user_writes_are_published_after_commit(
    portal: tuple[httpx.AsyncClient, ConfigView, uuid.UUID],
) -> None:
    client, view, customer_id = portal
    made = await client.post("/v1/sip-users", json={"username": "pbx", "channel_limit": 0})
    assert made.status_code == 201, made.text
    user_id = uuid.UUID(made.json()["sip_user"]["id"])
    await eventually(lambda: view.get("sipuser", user_id) is not None)
    seen = view.get("sipuser", user_id)
    assert seen.customer_id == customer_id
    password = made.json()["generated_password"]
    assert seen.ha1_md5 == digest.ha1("pbx", seen.realm, password, "MD5")

    reset = await client.post(f"/v1/sip-users/{user_id}/reset-password")
    new_password = reset.json()["password"]
    await eventually(
        lambda: (
            view.get("sipuser", user_id).ha1_md5
            == digest.ha1("pbx", seen.realm, new_password, "MD5")
        )
    )
    await client.patch(f"/v1/sip-users/{user_id}", json={"cps_limit": 3})
    await eventually(lambda: view.get("sipuser", user_id).cps_limit == 3)

    assert (await client.delete(f"/v1/sip-users/{user_id}")).status_code == 204
    await eventually(lambda: view.get("sipuser", user_id) is None)
