"""API keys: shown once, stored hashed, scoped, bounded by their owner, revocable, IP-bound."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text

from libs.db import Database
from libs.db.models import ApiKey
from libs.identity.permissions import Access, Area
from tests.apps import client_for
from tests.identity.factories import (
    FakeClock,
    bearer,
    login,
    make_customer_user,
    make_operator,
    make_role,
)


async def owner_session(app: FastAPI, client: httpx.AsyncClient, clock: FakeClock) -> Any:
    owner = await make_operator(app)
    tokens = await login(client, owner, clock)
    return owner, bearer(tokens["access_token"])


async def create_key(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await client.post("/v1/api-keys", json={"name": "automation", **body}, headers=headers)


async def test_a_key_is_shown_once_and_stored_hashed(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock, database: Database
) -> None:
    _, headers = await owner_session(switch_app, switch, clock)
    created = await create_key(switch, headers, permissions={"customers": "read"})
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith("tdm_key_")
    assert body["permissions"]["customers"] == "read"
    assert body["permissions"]["carriers"] == "none"

    listed = await switch.get("/v1/api-keys", headers=headers)
    assert key not in listed.text
    assert [k["id"] for k in listed.json()["items"]] == [body["id"]]
    assert key not in (await switch.get(created.headers["location"], headers=headers)).text

    async with database.session() as session:
        row = (await session.scalars(select(ApiKey))).one()
        assert row.key_hash != key
        assert len(row.key_hash) == 64
        # The plaintext is nowhere in the database, audit log included.
        for table in ("api_keys", "audit_events"):
            dump = str((await session.execute(text(f"SELECT * FROM {table}"))).all())
            assert key not in dump
            assert key.split("_")[-1] not in dump


async def test_a_key_can_do_what_its_scope_allows_and_nothing_else(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock, database: Database
) -> None:
    _, headers = await owner_session(switch_app, switch, clock)
    key = (await create_key(switch, headers, permissions={"customers": "read"})).json()["key"]
    as_key = bearer(key)
    assert (await switch.get("/v1/customers", headers=as_key)).status_code == 200
    assert (await switch.get("/v1/customers", headers={"X-API-Key": key})).status_code == 200
    new = {"name": "By key", "currency": "EUR"}
    assert (await switch.post("/v1/customers", json=new, headers=as_key)).status_code == 403
    assert (await switch.get("/v1/zones", headers=as_key)).status_code == 403
    assert (await switch.get("/v1/api-keys", headers=as_key)).status_code == 403
    # A key is not a person: no password changes, no logout, no TOTP.
    change = {"current_password": "x", "new_password": "a perfectly fine passphrase"}
    assert (await switch.post("/v1/auth/password", json=change, headers=as_key)).status_code == 403
    assert (await switch.post("/v1/auth/totp/enrol", headers=as_key)).status_code == 403

    async with database.session() as session:
        assert (await session.scalars(select(ApiKey.last_used_at))).one() is not None


async def test_a_revoked_key_stops_working_at_once(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> None:
    _, headers = await owner_session(switch_app, switch, clock)
    created = (await create_key(switch, headers, permissions={"customers": "write"})).json()
    assert (await switch.get("/v1/customers", headers=bearer(created["key"]))).status_code == 200
    revoked = await switch.delete(f"/v1/api-keys/{created['id']}", headers=headers)
    assert revoked.status_code == 204
    assert (await switch.get("/v1/customers", headers=bearer(created["key"]))).status_code == 401
    shown = (await switch.get(f"/v1/api-keys/{created['id']}", headers=headers)).json()
    assert shown["revoked_at"] is not None
    # A made-up key with a real lookup id but the wrong secret is refused too.
    forged = created["key"][:-4] + "AAAA"
    assert (await switch.get("/v1/customers", headers=bearer(forged))).status_code == 401


async def test_a_key_never_exceeds_its_creator(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> None:
    role = await make_role(
        switch_app,
        permissions={Area.SECURITY: Access.WRITE, Area.CUSTOMERS: Access.READ},
    )
    clerk = await make_operator(switch_app, role=role)
    headers = bearer((await login(switch, clerk, clock))["access_token"])
    too_much = await create_key(switch, headers, permissions={"customers": "write"})
    assert too_much.status_code == 403
    assert "customers:write" in too_much.json()["detail"]
    fine = await create_key(switch, headers, permissions={"customers": "read"})
    assert fine.status_code == 201

    # Keys shrink with their owner: demote the creator, and the key loses the right too.
    _, owner_headers = await owner_session(switch_app, switch, clock)
    demote_to = await make_role(switch_app, permissions={Area.SECURITY: Access.WRITE})
    changed = await switch.patch(
        f"/v1/operators/{clerk.id}", json={"role_id": str(demote_to)}, headers=owner_headers
    )
    assert changed.status_code == 200
    key = fine.json()["key"]
    assert (await switch.get("/v1/customers", headers=bearer(key))).status_code == 403


async def test_a_key_with_an_allow_list_works_only_from_there(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> None:
    _, headers = await owner_session(switch_app, switch, clock)
    bad = await create_key(switch, headers, allowed_sources=["10.0.0.1/8"])
    assert bad.status_code == 422
    created = await create_key(
        switch, headers, permissions={"customers": "read"}, allowed_sources=["10.0.0.0/8"]
    )
    key = created.json()["key"]
    assert (await switch.get("/v1/customers", headers=bearer(key))).status_code == 403
    async with client_for(switch_app, "10.1.2.3") as inside:
        assert (await inside.get("/v1/customers", headers=bearer(key))).status_code == 200


async def test_customer_keys_stay_inside_their_customer(
    customer_app: FastAPI,
    customer: httpx.AsyncClient,
    switch: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    alice = await make_customer_user(customer_app)
    bob = await make_customer_user(customer_app)
    alice_headers = bearer((await login(customer, alice, clock))["access_token"])
    bob_headers = bearer((await login(customer, bob, clock))["access_token"])

    created = await create_key(customer, alice_headers, permissions={"security": "read"})
    assert created.status_code == 201, created.text
    assert created.json()["customer_id"] == str(alice.customer_id)
    key = created.json()["key"]

    listed = (await customer.get("/v1/api-keys", headers=bearer(key))).json()
    assert [k["id"] for k in listed["items"]] == [created.json()["id"]]
    assert (await customer.get("/v1/api-keys", headers=bob_headers)).json()["items"] == []
    key_url = f"/v1/api-keys/{created.json()['id']}"
    assert (await customer.get(key_url, headers=bob_headers)).status_code == 404
    assert (await customer.delete(key_url, headers=bob_headers)).status_code == 404
    # Read-only: it cannot make keys. And it means nothing to switch_api.
    assert (await create_key(customer, bearer(key))).status_code == 403
    assert (await switch.get("/v1/customers", headers=bearer(key))).status_code == 401
