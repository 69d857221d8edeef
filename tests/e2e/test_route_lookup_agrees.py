"""Issue 9, done when: a route lookup and sip_core agree on the carriers of the same call.

The operator configures a least-cost route over three carriers with different buy rates and an
API key with lookup access through switch_api; the database is published into a nats-server of
the test's own (``reconcile_database``). lookup_api (its app, following that configuration)
answers the route lookup for the number; then a sipp customer calls the same number through
sip_core, whose carriers are sipp peers: the two cheapest refuse with 503, so sip_core fails
over through all three — and the order it tried them in (the CDR's attempts) is the lookup's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from libs.bus.cdr import ReleaseReason
from libs.db import Database
from libs.platform.natsd import NatsServer, free_port
from services.lookup_api.app import create_app
from services.lookup_api.config import LookupApiSettings
from tests.apps import client_for
from tests.e2e.rig import (
    Operator,
    carrier_answering,
    carrier_refusing,
    customer_call,
    eventually,
    finished,
    plant,
    sip_core,
)

pytestmark = pytest.mark.slow

NUMBER = "442079460018"


@asynccontextmanager
async def lookup_api(server: NatsServer) -> AsyncIterator[FastAPI]:
    """lookup_api following the configuration in ``server``, its lifespan running."""
    app = create_app(
        LookupApiSettings(environment="test", nats={"servers": [server.url]}, node_id="e2e")
    )
    async with app.router.lifespan_context(app):
        yield app


async def _lookup_key(operator: httpx.AsyncClient) -> str:
    """An operator's API key allowed to read routing, with lookup access (no limits)."""
    created = await operator.post(
        "/v1/api-keys", json={"name": "route lookups", "permissions": {"routing": "read"}}
    )
    assert created.status_code == 201, created.text
    granted = await operator.put(f"/v1/lookup/access/{created.json()['id']}", json={})
    assert granted.status_code == 200, granted.text
    key: str = created.json()["key"]
    return key


async def test_sip_core_tries_carriers_in_the_order_the_route_lookup_gives(
    tmp_path: Path, database: Database, operator: httpx.AsyncClient
) -> None:
    setup = Operator(operator)
    customer_id = await setup.customer(payment="10")
    sell_card = await setup.rate_card("sell", {"44": "0.0500"})
    # Created (and listed on the route) in an order that is not the cost order.
    buy = {"dear": "0.0300", "cheapest": "0.0100", "middle": "0.0200"}
    ports = {name: free_port() for name in buy}
    carriers = {name: await setup.carrier(ports[name], "44", rate) for name, rate in buy.items()}
    await setup.route(customer_id, sell_card, list(carriers.values()))
    key = await _lookup_key(operator)

    async with plant(tmp_path, database) as switch:
        await switch.publish()
        async with lookup_api(switch.server) as app, client_for(app, "127.0.0.1") as lookups:
            lookups.headers["X-API-Key"] = key

            async def answer() -> dict[str, Any] | None:
                response = await lookups.get(
                    f"/v1/routes/{NUMBER}", params={"customer_id": customer_id}
                )
                if response.status_code != 200:  # the key or the cards not loaded yet
                    return None
                body: dict[str, Any] = response.json()
                return body if body["routed"] and len(body["carriers"]) == 3 else None

            lookup = await eventually(answer)

        async with sip_core(switch.connector, tmp_path / "spool") as node:
            peers = [
                await carrier_refusing(ports["cheapest"], tmp_path, 503),
                await carrier_refusing(ports["middle"], tmp_path, 503),
                await carrier_answering(ports["dear"], tmp_path),
            ]
            caller = await customer_call(tmp_path, node.port, NUMBER, hold_ms=500)
            await finished(caller, *peers)
            (cdr,) = await eventually(lambda: node.cdrs)

    looked_up = [c["carrier_id"] for c in lookup["carriers"]]
    # The lookup is least-cost: cheapest first, whatever order the route lists them in.
    assert looked_up == [carriers["cheapest"], carriers["middle"], carriers["dear"]]
    rates = [Decimal(c["buy_rate"]["rate"]) for c in lookup["carriers"]]
    assert rates == [Decimal("0.01"), Decimal("0.02"), Decimal("0.03")]
    assert Decimal(lookup["sell_rate"]["rate"]) == Decimal("0.05")

    # sip_core tried exactly those carriers, in that order, at the gateways the lookup named.
    assert [str(a.carrier_id) for a in cdr.attempts] == looked_up
    assert [a.sip_code for a in cdr.attempts] == [503, 503, 200]
    assert [a.gateway for a in cdr.attempts] == [
        f"{c['gateway']['host']}:{c['gateway']['port']}" for c in lookup["carriers"]
    ]
    assert [a.buy_rate for a in cdr.attempts] == rates
    assert [a.number_sent for a in cdr.attempts] == [
        f"sip:{c['number']}@{c['gateway']['host']}:{c['gateway']['port']}"
        for c in lookup["carriers"]
    ]
    assert str(cdr.route_id) == lookup["route"]["id"]
    assert cdr.release_reason is ReleaseReason.NORMAL
