"""GET /v1/registrations and POST /v1/sip-users/{id}/messages over a real nats-server: bindings
as sip_core nodes store them in the registrations bucket, MESSAGE requests answered by a
responder in the sip_core queue group."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from libs.bus import REGISTRATIONS_BUCKET, Bus, BusConnector, Msg, provision
from libs.bus.registrations import (
    SIP_MESSAGE_QUEUE,
    SIP_MESSAGE_SUBJECT,
    ContactDelivery,
    Registration,
    SendSipMessage,
    SipMessageSent,
)
from libs.db import Database
from libs.platform.natsd import NatsServer
from services.switch_api.app import create_app
from services.switch_api.config import SwitchApiSettings
from tests.identity.factories import FakeClock, bearer, login, make_operator
from tests.switch_api import factories


@pytest.fixture
async def world(
    tmp_path: Path,
    database: Database,
    database_url: str,
    identity_config: dict[str, Any],
    clock: FakeClock,
) -> AsyncIterator[tuple[httpx.AsyncClient, Bus]]:
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        connector = BusConnector(server.url, name="registrations-test")
        connector.start()
        try:
            bus = await connector.wait_connected(5)
            await provision(bus.js)
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
                    await asyncio.wait_for(app.state.bus.wait_connected(), 10)
                    yield api, bus
        finally:
            await connector.close()


def binding(user: dict[str, Any], contact: str, *, seconds: int = 300) -> Registration:
    now = datetime.now(UTC)
    return Registration(
        sip_user_id=user["id"], customer_id=user["customer_id"], username=user["username"],
        realm="tandem", contact=contact, expires_at=now + timedelta(seconds=seconds),
        registered_at=now, call_id="abc", cseq=2, transport="udp", source_host="198.51.100.7",
        source_port=40312, target_host="198.51.100.7", target_port=40312, nat=True,
        user_agent="Yealink T46U", node_id="sip-1",
    )  # fmt: skip


async def store(bus: Bus, *bindings: Registration) -> None:
    kv = await bus.key_value(REGISTRATIONS_BUCKET)
    for b in bindings:
        await kv.put(b.key, b.to_bytes())


async def test_registrations_are_listed_by_customer_and_sip_user(
    world: tuple[httpx.AsyncClient, Bus],
) -> None:
    api, bus = world
    acme, other = await factories.customer(api), await factories.customer(api)
    alice = await factories.sip_user(api, acme["id"], username="alice")
    bob = await factories.sip_user(api, acme["id"], username="bob")
    carol = await factories.sip_user(api, other["id"], username="carol")
    await store(
        bus,
        binding(alice, "sip:alice@192.168.1.20:5060"),
        binding(alice, "sip:alice@192.168.1.21:5060"),
        binding(bob, "sip:bob@192.168.1.30:5060"),
        binding(carol, "sip:carol@10.0.0.9:5060"),
        binding(carol, "sip:carol@10.0.0.10:5060", seconds=-5),  # lapsed: not listed
    )

    everything = (await api.get("/v1/registrations")).json()
    assert sorted(r["contact"] for r in everything) == [
        "sip:alice@192.168.1.20:5060", "sip:alice@192.168.1.21:5060",
        "sip:bob@192.168.1.30:5060", "sip:carol@10.0.0.9:5060",
    ]  # fmt: skip
    mine = (await api.get("/v1/registrations", params={"customer_id": acme["id"]})).json()
    assert [r["username"] for r in mine] == ["alice", "alice", "bob"]
    one = await api.get(
        "/v1/registrations", params={"customer_id": acme["id"], "sip_user_id": alice["id"]}
    )
    assert [r["contact"] for r in one.json()] == [
        "sip:alice@192.168.1.20:5060", "sip:alice@192.168.1.21:5060",
    ]  # fmt: skip
    by_user = (await api.get("/v1/registrations", params={"sip_user_id": carol["id"]})).json()
    (entry,) = by_user
    assert entry["target"] == "198.51.100.7:40312"
    assert entry["nat"] is True
    assert entry["user_agent"] == "Yealink T46U"
    assert 290 <= entry["expires_in"] <= 300


async def test_an_operator_message_is_carried_by_a_sip_core_node(
    world: tuple[httpx.AsyncClient, Bus],
) -> None:
    api, bus = world
    customer = await factories.customer(api)
    user = await factories.sip_user(api, customer["id"])
    asked: list[SendSipMessage] = []

    async def node(msg: Msg) -> None:  # what services.sip_core.registrar.messaging answers
        command = SendSipMessage.from_bytes(msg.data)
        asked.append(command)
        if command.sip_user_id != uuid.UUID(user["id"]):
            reply = SipMessageSent(
                sip_user_id=command.sip_user_id, delivered=False, error="not_registered"
            )
        else:
            reply = SipMessageSent(
                sip_user_id=command.sip_user_id, delivered=True, node_id="sip-1",
                results=[ContactDelivery(contact="sip:x@192.0.2.1", status=200, reason="OK")],
            )  # fmt: skip
        await bus.respond(msg, reply)

    no_node = await api.post(f"/v1/sip-users/{user['id']}/messages", json={"text": "hello"})
    assert no_node.status_code == 503, no_node.text

    subscription = await bus.subscribe(SIP_MESSAGE_SUBJECT, node, queue=SIP_MESSAGE_QUEUE)
    try:
        sent = await api.post(
            f"/v1/sip-users/{user['id']}/messages",
            json={"text": "Maintenance tonight at 22:00", "sender": "noc"},
        )
        assert sent.status_code == 200, sent.text
        assert sent.json() == {
            "delivered": True,
            "results": [{"contact": "sip:x@192.0.2.1", "status": 200, "reason": "OK"}],
            "node_id": "sip-1",
        }
        assert asked[-1].body == "Maintenance tonight at 22:00"
        assert asked[-1].sender == "noc"

        offline = await factories.sip_user(api, customer["id"])
        refused = await api.post(f"/v1/sip-users/{offline['id']}/messages", json={"text": "hi"})
        assert refused.status_code == 409
        assert "not registered" in refused.json()["detail"]
        unknown = await api.post(f"/v1/sip-users/{uuid.uuid4()}/messages", json={"text": "hi"})
        assert unknown.status_code == 404
        empty = await api.post(f"/v1/sip-users/{user['id']}/messages", json={"text": ""})
        assert empty.status_code == 422
    finally:
        await subscription.unsubscribe()
