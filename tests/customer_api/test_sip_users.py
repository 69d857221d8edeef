"""SIP users in customer_api: the account's channel capacity, "Duplicate User Detected",
passwords generated and shown once (only HA1s stored), and an audit entry for each write."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from sqlalchemy import select

from libs.db import Database
from libs.db.models import AuditEvent, SipUser
from libs.security import digest
from tests.customer_api.factories import Account

NewAccount = Callable[..., Awaitable[Account]]


async def test_capacity_is_shared_by_the_accounts_sip_users(accounts: NewAccount) -> None:
    acme = await accounts(channel_limit=100)
    first = await acme.client.post("/v1/sip-users", json={"username": "pbx-1", "channel_limit": 50})
    assert first.status_code == 201, first.text
    second = await acme.client.post(
        "/v1/sip-users", json={"username": "pbx-2", "channel_limit": 50}
    )
    assert second.status_code == 201, second.text

    third = await acme.client.post("/v1/sip-users", json={"username": "pbx-3", "channel_limit": 1})
    assert third.status_code == 409
    assert third.json()["detail"] == "No channel capacity available for your account"
    assert third.json()["channels_available"] == 0

    # Raising one user beyond what the others leave is refused too; lowering one frees room.
    user_id = first.json()["sip_user"]["id"]
    raised = await acme.client.patch(f"/v1/sip-users/{user_id}", json={"channel_limit": 51})
    assert raised.status_code == 409
    assert raised.json()["detail"] == "No channel capacity available for your account"
    lowered = await acme.client.patch(f"/v1/sip-users/{user_id}", json={"channel_limit": 40})
    assert lowered.status_code == 200, lowered.text
    third = await acme.client.post("/v1/sip-users", json={"username": "pbx-3", "channel_limit": 10})
    assert third.status_code == 201, third.text

    account = (await acme.client.get("/v1/account")).json()
    assert (account["sip_channels_allocated"], account["sip_channels_available"]) == (100, 0)


async def test_a_taken_username_is_a_duplicate_but_only_within_the_account(
    accounts: NewAccount,
) -> None:
    acme, other = await accounts(), await accounts()
    made = await acme.client.post("/v1/sip-users", json={"username": "office"})
    assert made.status_code == 201, made.text
    again = await acme.client.post("/v1/sip-users", json={"username": "office"})
    assert again.status_code == 409
    assert again.json()["detail"] == "Duplicate User Detected"
    # Another account may use the same name: usernames are unique per account.
    assert (
        await other.client.post("/v1/sip-users", json={"username": "office"})
    ).status_code == 201

    second = await acme.client.post("/v1/sip-users", json={"username": "desk"})
    renamed = await acme.client.patch(
        f"/v1/sip-users/{second.json()['sip_user']['id']}",
        json={"username": "office", "password": "another long password"},
    )
    assert renamed.status_code == 409
    assert renamed.json()["detail"] == "Duplicate User Detected"


async def test_passwords_are_generated_shown_once_and_stored_as_ha1_only(
    accounts: NewAccount, customer_app: FastAPI
) -> None:
    acme = await accounts()
    made = await acme.client.post("/v1/sip-users", json={"username": "trunk"})
    assert made.status_code == 201, made.text
    body = made.json()
    generated = body["generated_password"]
    assert len(generated) >= 20
    user_id = body["sip_user"]["id"]
    assert made.headers["location"] == f"/v1/sip-users/{user_id}"

    shown = await acme.client.get(f"/v1/sip-users/{user_id}")
    listed = await acme.client.get("/v1/sip-users")
    for response in (shown, listed):
        assert response.status_code == 200
        assert generated not in response.text
        assert "ha1" not in response.text

    reset = await acme.client.post(f"/v1/sip-users/{user_id}/reset-password")
    assert reset.status_code == 200, reset.text
    new_password = reset.json()["password"]
    assert new_password != generated
    assert new_password not in (await acme.client.get(f"/v1/sip-users/{user_id}")).text

    database: Database = customer_app.state.database
    async with database.session() as session:
        row = await session.get(SipUser, uuid.UUID(user_id))
        assert row is not None
        assert row.ha1_md5 == digest.ha1("trunk", row.realm, new_password, "MD5")
        assert row.ha1_sha256 == digest.ha1("trunk", row.realm, new_password, "SHA-256")
        events = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.object_id == user_id).order_by(AuditEvent.at)
            )
        ).all()
    assert [e.action for e in events] == ["sip_user.created", "sip_user.updated"]
    assert all(e.actor_kind == "customer_user" for e in events)
    assert all(str(e.tenant_id) == acme.id for e in events)
    assert all(e.actor_id == str(acme.person.id) for e in events)
    for event in events:  # the hashes show as redacted, never in clear
        assert new_password not in str(event.diff)
        assert event.diff["ha1_md5"]["new"] == "[redacted]"


async def test_chosen_passwords_follow_the_policy_and_deletes_free_the_name(
    accounts: NewAccount,
) -> None:
    acme = await accounts()
    weak = await acme.client.post("/v1/sip-users", json={"username": "u1", "password": "password"})
    assert weak.status_code == 422
    chosen = await acme.client.post(
        "/v1/sip-users", json={"username": "u1", "password": "a long chosen sip secret"}
    )
    assert chosen.status_code == 201
    assert chosen.json()["generated_password"] is None
    user_id = chosen.json()["sip_user"]["id"]
    assert (await acme.client.delete(f"/v1/sip-users/{user_id}")).status_code == 204
    assert (await acme.client.get(f"/v1/sip-users/{user_id}")).status_code == 404
    assert (await acme.client.post("/v1/sip-users", json={"username": "u1"})).status_code == 201


async def test_a_customer_cannot_name_another_account(accounts: NewAccount) -> None:
    acme, other = await accounts(), await accounts()
    sneaky = await acme.client.post(
        "/v1/sip-users", json={"username": "x", "customer_id": other.id}
    )
    assert sneaky.status_code == 422  # no such field: the account is the caller's
