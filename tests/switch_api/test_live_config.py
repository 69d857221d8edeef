"""Writes through switch_api reach a watching ConfigView on a real nats-server.

Each test starts a nats-server of its own (``port=0``) and a switch_api app pointed at it, so no
stream is shared between tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from libs.bus import CONFIG_BUCKET, BusConnector, provision
from libs.db import Database
from libs.liveconfig import ConfigView
from libs.liveconfig.models import CONFIG_KINDS, SETTINGS_ID, load_rate_card_blob
from libs.platform.cli import app as cli
from libs.platform.natsd import NatsServer
from libs.routing import parse_rate_card
from services.switch_api.app import create_app
from services.switch_api.config import SwitchApiSettings
from services.switch_api.live import LiveConfig
from tests.identity.factories import FakeClock, bearer, login, make_operator
from tests.switch_api import factories


@dataclass
class Live:
    api: httpx.AsyncClient
    view: ConfigView
    app: FastAPI
    connector: BusConnector
    server: NatsServer

    @property
    def live(self) -> LiveConfig:
        live: LiveConfig = self.app.state.live
        return live

    def get(self, kind: str, object_id: str | uuid.UUID) -> Any:
        return self.view.get(kind, uuid.UUID(str(object_id)))


async def eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def live(
    tmp_path: Path,
    database: Database,
    database_url: str,
    identity_config: dict[str, Any],
    clock: FakeClock,
) -> AsyncIterator[Live]:
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        connector = BusConnector(server.url, name="config-view")
        connector.start()
        try:
            await provision((await connector.wait_connected(5)).js)
            settings = SwitchApiSettings(
                environment="test",
                database={"url": database_url},
                identity=identity_config,
                nats={"servers": [server.url]},
            )
            app = create_app(settings, clock=clock)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://switch") as api:
                    owner = await make_operator(app)
                    api.headers.update(bearer((await login(api, owner, clock))["access_token"]))
                    await asyncio.wait_for(app.state.live.reconciled.wait(), 10)
                    view = ConfigView(
                        connector, CONFIG_KINDS, blobs={"ratecard": load_rate_card_blob}
                    )
                    view.start()
                    try:
                        await asyncio.wait_for(view.loaded.wait(), 5)
                        yield Live(api, view, app, connector, server)
                    finally:
                        await view.stop()
        finally:
            await connector.close()


async def test_a_watching_view_sees_creates_updates_and_deletes(live: Live) -> None:
    api = live.api
    # The start-up reconcile published the settings object (defaults) before any write.
    assert live.view.get("settings", SETTINGS_ID).sip_realm == "tandem"

    customer = await factories.customer(api, channel_limit=20, source_ranges=["192.0.2.0/24"])
    await eventually(lambda: live.get("customer", customer["id"]) is not None)
    seen = live.get("customer", customer["id"])
    assert (seen.channel_limit, seen.source_ranges) == (20, ["192.0.2.0/24"])

    await api.patch(f"/v1/customers/{customer['id']}", json={"status": "suspended"})
    await eventually(lambda: live.get("customer", customer["id"]).status == "suspended")
    assert live.get("customer", customer["id"]).version == customer["version"] + 1

    entry = await factories.ip_auth(api, customer_id=customer["id"], address="192.0.2.10")
    user = await factories.sip_user(api, customer["id"], username="alice", channel_limit=5)
    rule = await factories.create(
        api, "/v1/rewrite-rules", {"sip_user_id": user["id"], "match": "+", "replacement": ""}
    )
    card = await factories.rate_card(api)
    route = await factories.create(
        api, "/v1/routes", {"customer_id": customer["id"], "rate_card_id": card["id"]}
    )
    await eventually(
        lambda: all(
            live.get(kind, obj["id"]) is not None
            for kind, obj in (
                ("ipauth", entry),
                ("sipuser", user),
                ("rewrite", rule),
                ("route", route),
            )
        )
    )
    sip = live.get("sipuser", user["id"])
    assert (sip.username, sip.realm, len(sip.ha1_md5), len(sip.ha1_sha256)) == (
        "alice",
        "tandem",
        32,
        64,
    )
    assert live.get("rewrite", rule["id"]).owner_id == uuid.UUID(user["id"])

    # A carrier's gateway is an egress entry: the carrier object follows its gateways.
    carrier = await factories.carrier(api)
    gateway = await factories.ip_auth(
        api,
        carrier_id=carrier["id"],
        direction="egress",
        address="192.0.2.200",
        weight=4,
        username="trunk",
        password="trunk secret",
    )
    await eventually(lambda: bool(getattr(live.get("carrier", carrier["id"]), "gateways", [])))
    assert live.get("carrier", carrier["id"]).gateways[0].weight == 4
    published = live.get("ipauth", gateway["id"])
    assert published.password_ciphertext.startswith("v1:")
    assert "trunk secret" not in published.model_dump_json()
    await api.delete(f"/v1/ip-auth/{gateway['id']}")
    await eventually(lambda: live.get("carrier", carrier["id"]).gateways == [])
    assert live.get("ipauth", gateway["id"]) is None

    await api.patch("/v1/settings", json={"platform_channel_limit": 900})
    await eventually(lambda: live.view.get("settings", SETTINGS_ID).platform_channel_limit == 900)

    # Deleting the customer deletes everything that went with it.
    assert (await api.delete(f"/v1/customers/{customer['id']}")).status_code == 204
    await eventually(
        lambda: all(
            live.get(kind, obj["id"]) is None
            for kind, obj in (
                ("customer", customer),
                ("ipauth", entry),
                ("sipuser", user),
                ("rewrite", rule),
                ("route", route),
            )
        )
    )


async def test_firewall_rules_apply_and_expire_on_time(live: Live) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=3)
    rule = await factories.create(
        live.api,
        "/v1/firewall-rules",
        {"network": "198.51.100.66", "action": "block", "expires_at": expires.isoformat()},
    )
    await eventually(lambda: live.get("firewall", rule["id"]) is not None, within=2.5)
    await eventually(lambda: live.get("firewall", rule["id"]) is None, within=6)
    assert datetime.now(UTC) >= expires
    assert (await live.api.get(f"/v1/firewall-rules/{rule['id']}")).json()["expired"] is True
    # An unblock (delete) applies at once too.
    permanent = await factories.create(
        live.api, "/v1/firewall-rules", {"network": "198.51.100.67", "action": "block"}
    )
    await eventually(lambda: live.get("firewall", permanent["id"]) is not None, within=3)
    await live.api.delete(f"/v1/firewall-rules/{permanent['id']}")
    await eventually(lambda: live.get("firewall", permanent["id"]) is None, within=3)


async def test_rate_cards_reach_the_object_store(live: Live) -> None:
    api = live.api
    card = await factories.rate_card(api, default_initial=30, default_subsequent=6)
    revision = await factories.revision(api, card["id"])
    deck = "prefix,destination,rate\n44,UK,0.01\n4420,London,0.0085\n"
    imported = await api.post(
        f"/v1/rate-cards/{card['id']}/revisions/{revision['id']}/rates/import",
        content=deck,
        headers={"content-type": "text/csv"},
    )
    assert imported.status_code == 200
    await api.post(f"/v1/rate-cards/{card['id']}/revisions/{revision['id']}/activate")

    def loaded() -> bool:
        blob = live.get("ratecard", card["id"])
        return (
            blob is not None and bool(blob["revisions"]) and len(blob["revisions"][0]["rates"]) == 2
        )

    await eventually(loaded)
    routing_card = parse_rate_card(live.get("ratecard", card["id"]))
    rate = routing_card.lookup("442071234567", datetime.now(UTC))
    assert rate is not None
    assert (str(rate.per_minute), rate.increments.initial) == ("0.0085", 30)

    await api.delete(f"/v1/rate-cards/{card['id']}")
    await eventually(lambda: live.get("ratecard", card["id"]) is None)


async def test_reconcile_repairs_what_nats_missed(live: Live, database_url: str) -> None:
    customer = await factories.customer(live.api)
    await eventually(lambda: live.get("customer", customer["id"]) is not None)
    kv = await live.connector.bus.key_value(CONFIG_BUCKET)
    await kv.delete(f"customer.{customer['id']}")
    await kv.put(f"route.{uuid.uuid4()}", b'{"id": "stale"}')
    await eventually(lambda: live.get("customer", customer["id"]) is None)

    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["config", "publish", "--database-url", database_url, "--nats-url", live.server.url],
    )
    assert result.exit_code == 0, result.output
    assert "1 deleted" in result.output
    await eventually(lambda: live.get("customer", customer["id"]) is not None)
