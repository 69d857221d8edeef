"""SIP users: HA1-only passwords, the duplicate-user and channel-capacity rules."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from libs.db.models import SipUser
from libs.security import digest
from tests.switch_api import factories


async def _stored(app: FastAPI) -> list[SipUser]:
    async with app.state.database.session() as session:
        return list((await session.scalars(select(SipUser))).all())


async def test_the_password_is_stored_only_as_ha1_and_never_returned(
    api: httpx.AsyncClient, switch_app: FastAPI
) -> None:
    customer = await factories.customer(api)
    response = await api.post(
        "/v1/sip-users",
        json={"customer_id": customer["id"], "username": "alice", "password": "correct horse 42"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["generated_password"] is None
    user = body["sip_user"]
    assert user["realm"] == "tandem"
    for text in (response.text, (await api.get(f"/v1/sip-users/{user['id']}")).text):
        assert "correct horse 42" not in text
        assert "ha1" not in text
    (row,) = await _stored(switch_app)
    assert row.ha1_md5 == digest.ha1("alice", "tandem", "correct horse 42", "MD5")
    assert row.ha1_sha256 == digest.ha1("alice", "tandem", "correct horse 42", "SHA-256")
    # RFC 2617 §3.5's worked example, answered with the stored HA1 (no password needed).
    response_value = digest.compute_response(
        row.ha1_md5,
        method="INVITE",
        uri="sip:bob@tandem",
        nonce="dcd98b",
        nc="00000001",
        cnonce="0a4f113b",
    )
    expected = digest.compute_response(
        digest.ha1("alice", "tandem", "correct horse 42"),
        method="INVITE",
        uri="sip:bob@tandem",
        nonce="dcd98b",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response_value == expected


async def test_generate_password_returns_a_strong_one_once(
    api: httpx.AsyncClient, switch_app: FastAPI
) -> None:
    customer = await factories.customer(api)
    created = await api.post(
        "/v1/sip-users", json={"customer_id": customer["id"], "username": "bob"}
    )
    first = created.json()["generated_password"]
    assert len(first) >= 20
    user_id = created.json()["sip_user"]["id"]
    generated = await api.post(f"/v1/sip-users/{user_id}/generate-password")
    assert generated.status_code == 200
    password = generated.json()["password"]
    assert password != first
    (row,) = await _stored(switch_app)
    assert row.ha1_md5 == digest.ha1("bob", "tandem", password, "MD5")
    assert password not in (await api.get(f"/v1/sip-users/{user_id}")).text


async def test_duplicate_user_detected(api: httpx.AsyncClient) -> None:
    customer, other = await factories.customer(api), await factories.customer(api)
    await factories.sip_user(api, customer["id"], username="office")
    duplicate = await api.post(
        "/v1/sip-users",
        json={"customer_id": customer["id"], "username": "office", "password": "another pass 1"},
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["detail"] == "Duplicate User Detected"
    await factories.sip_user(api, other["id"], username="office")  # per account
    renamed = await factories.sip_user(api, customer["id"], username="desk")
    clash = await api.patch(
        f"/v1/sip-users/{renamed['id']}", json={"username": "office", "password": "pw pw pw 9"}
    )
    assert (clash.status_code, clash.json()["detail"]) == (409, "Duplicate User Detected")


async def test_no_channel_capacity_beyond_the_customers_channels(api: httpx.AsyncClient) -> None:
    # The reference's example: 100 channels, two users of 50, a third with one more is refused.
    customer = await factories.customer(api, channel_limit=100)
    first = await factories.sip_user(api, customer["id"], channel_limit=50)
    await factories.sip_user(api, customer["id"], channel_limit=50)
    third = await api.post(
        "/v1/sip-users",
        json={
            "customer_id": customer["id"],
            "username": "third",
            "password": "third pass 1",
            "channel_limit": 1,
        },
    )
    assert third.status_code == 409
    assert third.json()["detail"] == "No channel capacity available for your account"
    assert third.json()["channels_available"] == 0
    grow = await api.patch(f"/v1/sip-users/{first['id']}", json={"channel_limit": 51})
    assert grow.json()["detail"] == "No channel capacity available for your account"
    shrink = await api.patch(f"/v1/sip-users/{first['id']}", json={"channel_limit": 40})
    assert shrink.status_code == 200
    fits = await factories.sip_user(api, customer["id"], channel_limit=10)
    assert fits["channel_limit"] == 10
    # And the customer cannot be lowered below what its SIP users hold.
    lowered = await api.patch(f"/v1/customers/{customer['id']}", json={"channel_limit": 90})
    assert lowered.status_code == 409
    assert "SIP users hold 100 channels" in lowered.json()["detail"]


async def test_sip_user_fields_and_validation(api: httpx.AsyncClient) -> None:
    customer = await factories.customer(api)
    user = await factories.sip_user(
        api,
        customer["id"],
        allowed_sources=["198.51.100.0/24"],
        calls_outside_allow_list=2,
        nat_ping="enabled_timeout",
        retain_did=True,
        transport="tcp",
    )
    assert (user["nat_ping"], user["retain_did"], user["calls_outside_allow_list"]) == (
        "enabled_timeout",
        True,
        2,
    )
    rename = await api.patch(f"/v1/sip-users/{user['id']}", json={"username": "renamed"})
    assert rename.status_code == 422
    assert rename.json()["errors"][0]["loc"] == ["body", "password"]
    weak = await api.post(
        "/v1/sip-users",
        json={"customer_id": customer["id"], "username": "weak", "password": "password"},
    )
    assert weak.status_code == 422
    bad_acl = await api.patch(f"/v1/sip-users/{user['id']}", json={"allowed_sources": ["x"]})
    assert bad_acl.status_code == 422
    bad_name = await api.post(
        "/v1/sip-users",
        json={"customer_id": customer["id"], "username": "has space", "password": "long pass 1"},
    )
    assert bad_name.status_code == 422
    listed = (await api.get("/v1/sip-users", params={"customer_id": customer["id"]})).json()
    assert [u["id"] for u in listed["items"]] == [user["id"]]
    assert (await api.delete(f"/v1/sip-users/{user['id']}")).status_code == 204


async def test_the_realm_cannot_change_under_existing_hashes(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/settings")).json()["sip_realm"] == "tandem"
    changed = await api.patch("/v1/settings", json={"sip_realm": "sip.example.net"})
    assert changed.status_code == 200
    customer = await factories.customer(api)
    user = await factories.sip_user(api, customer["id"])
    assert user["realm"] == "sip.example.net"
    refused = await api.patch("/v1/settings", json={"sip_realm": "other.example"})
    assert refused.status_code == 409
    assert "1 SIP users" in refused.json()["detail"]
