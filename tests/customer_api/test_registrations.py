"""GET /v1/registrations over a real nats-server: the account's bindings as sip_core nodes
store them in the registrations bucket; never another account's; 503 without NATS."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from libs.bus import REGISTRATIONS_BUCKET
from libs.bus.registrations import Registration
from tests.customer_api.conftest import Portal
from tests.customer_api.factories import Account

NewAccount = Callable[..., Awaitable[Account]]


def binding(
    customer_id: uuid.UUID, user_id: uuid.UUID, username: str, contact: str, *, seconds: int = 300
) -> Registration:
    now = datetime.now(UTC)
    return Registration(
        sip_user_id=user_id, customer_id=customer_id, username=username, realm="tandem",
        contact=contact, expires_at=now + timedelta(seconds=seconds), registered_at=now,
        call_id="abc", cseq=2, transport="udp", source_host="198.51.100.7", source_port=40312,
        target_host="198.51.100.7", target_port=40312, nat=True, user_agent="Yealink T46U",
        node_id="sip-1",
    )  # fmt: skip


async def test_the_accounts_own_bindings_only(portal: Portal) -> None:
    client = portal.client
    users: list[dict[str, Any]] = []
    for name in ("desk", "pbx"):
        made = await client.post("/v1/sip-users", json={"username": name, "channel_limit": 0})
        assert made.status_code == 201, made.text
        users.append(made.json()["sip_user"])
    desk, pbx = (uuid.UUID(u["id"]) for u in users)
    rival_customer, rival_user = uuid.uuid4(), uuid.uuid4()
    kv = await portal.connector.bus.key_value(REGISTRATIONS_BUCKET)
    for b in (
        binding(portal.customer_id, pbx, "pbx", "sip:pbx@10.0.0.5:5060"),
        binding(portal.customer_id, desk, "desk", "sip:desk@10.0.0.9:5062"),
        binding(portal.customer_id, desk, "desk", "sip:desk@10.0.0.8:5060"),
        binding(portal.customer_id, desk, "desk", "sip:desk@10.0.0.7:5060", seconds=-5),
        binding(rival_customer, rival_user, "rival-1001", "sip:rival-1001@10.9.9.9"),
    ):
        await kv.put(b.key, b.to_bytes())

    listed = await client.get("/v1/registrations")
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [(i["username"], i["contact"]) for i in items] == [
        ("desk", "sip:desk@10.0.0.8:5060"),
        ("desk", "sip:desk@10.0.0.9:5062"),
        ("pbx", "sip:pbx@10.0.0.5:5060"),
    ]  # by username then contact; the lapsed binding left out
    first = items[0]
    assert first["sip_user_id"] == str(desk)
    assert (first["source"], first["target"], first["nat"]) == (
        "198.51.100.7:40312",
        "198.51.100.7:40312",
        True,
    )
    assert 0 < first["expires_in"] <= 300
    assert (first["transport"], first["user_agent"]) == ("udp", "Yealink T46U")
    for hidden in ("rival", str(rival_customer), "node_id", "sip-1", "customer_id"):
        assert hidden not in listed.text

    one = await client.get("/v1/registrations", params={"sip_user_id": str(pbx)})
    assert [i["contact"] for i in one.json()["items"]] == ["sip:pbx@10.0.0.5:5060"]
    # Another account's SIP user: not found (the database says so before the bucket is read).
    foreign = await client.get("/v1/registrations", params={"sip_user_id": str(rival_user)})
    assert foreign.status_code == 404, foreign.text
    assert foreign.headers["content-type"] == "application/problem+json"


async def test_unreachable_nats_is_503_problem_details(accounts: NewAccount) -> None:
    acme = await accounts()
    user = await acme.sip_user()
    for params in ({}, {"sip_user_id": user["id"]}):
        response = await acme.client.get("/v1/registrations", params=params)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 503
        assert "try again" in problem["detail"]
