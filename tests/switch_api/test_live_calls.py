"""``/v1/live-calls``: switch_api lists and hangs up the calls of real sip_core nodes over NATS."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from libs.bus.cdr import ReleaseReason
from libs.db import Database
from libs.identity.permissions import Access, Area
from services.switch_api.app import create_app
from services.switch_api.config import SwitchApiSettings
from tests.identity.factories import FakeClock, bearer, login, make_operator, make_role
from tests.sip_core.test_b2bua_calls import until
from tests.sip_core.test_call_control import announced_node, ringing_call

pytestmark = pytest.mark.slow


async def test_operators_list_and_hang_up_live_calls(
    tmp_path: Path,
    database: Database,
    database_url: str,
    identity_config: dict[str, Any],
    clock: FakeClock,
) -> None:
    customer = uuid.uuid4()
    async with announced_node(tmp_path, customer) as (_, node, server):
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
                await until(lambda: app.state.bus.connected)
                reader_role = await make_role(app, permissions={Area.CALLS: Access.READ})
                reader = await make_operator(app, role=reader_role)
                reader_auth = bearer((await login(api, reader, clock))["access_token"])

                ringer, caller = await ringing_call(tmp_path, node)
                await until(lambda: any(c.phase.value == "early" for c in node.b2bua.calls))

                listed = await api.get("/v1/live-calls")
                assert listed.status_code == 200, listed.text
                body = listed.json()
                assert body["total"] == 1
                assert body["unreachable_nodes"] == []
                (call,) = body["items"]
                assert call["customer_id"] == str(customer)
                assert call["state"] == "early"
                other = await api.get("/v1/live-calls", params={"customer_id": str(uuid.uuid4())})
                assert other.json()["items"] == []

                # Reading is not hanging up.
                assert (await api.get("/v1/live-calls", headers=reader_auth)).status_code == 200
                target = f"/v1/live-calls/{call['call_id']}"
                forbidden = await api.delete(target, headers=reader_auth)
                assert forbidden.status_code == 403
                missing = await api.delete("/v1/live-calls/nosuchcall")
                assert missing.status_code == 404
                assert missing.headers["content-type"] == "application/problem+json"
                assert (await api.delete("/v1/live-calls/bad.id")).status_code == 422

                hung_up = await api.delete(target)
                assert hung_up.status_code == 204, hung_up.text
                for peer in (caller, ringer):
                    rc, out = await peer.finish()
                    assert rc == 0, out
                await until(lambda: len(node.cdrs) == 1)
                assert (await api.get("/v1/live-calls")).json()["items"] == []

    assert node.cdrs[0].release_reason is ReleaseReason.OPERATOR_HANGUP
