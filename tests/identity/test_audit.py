"""The audit log: who changed what from where, with a diff and never a secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from fastapi import FastAPI
from sqlalchemy import select, text

from libs.db import Database
from libs.db.models import AuditEvent, Operator
from tests.apps import client_for
from tests.identity.factories import FakeClock, bearer, login, make_customer_user, make_operator


async def events(database: Database, **where: object) -> list[AuditEvent]:
    async with database.session() as session:
        statement = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)
        for name, value in where.items():
            statement = statement.where(getattr(AuditEvent, name) == value)
        return list((await session.scalars(statement)).all())


async def test_a_write_is_recorded_with_its_diff_actor_and_source(
    switch_app: FastAPI, clock: FakeClock, database: Database
) -> None:
    owner = await make_operator(switch_app)
    async with client_for(switch_app, "203.0.113.50") as client:
        headers = bearer((await login(client, owner, clock))["access_token"])
        created = await client.post(
            "/v1/customers",
            json={"name": "Acme", "currency": "EUR", "channel_limit": 10},
            headers=headers,
        )
        customer_id = created.json()["id"]
        updated = await client.patch(
            f"/v1/customers/{customer_id}",
            json={"channel_limit": 20, "name": "Acme"},
            headers=headers,
        )
        deleted = await client.delete(f"/v1/customers/{customer_id}", headers=headers)
        assert deleted.status_code == 204

    create, update, delete = await events(database, object_id=customer_id)
    assert create.action == "customer.created"
    assert create.diff is not None
    assert create.diff["name"] == {"old": None, "new": "Acme"}
    assert create.diff["debit_limit"] == {"old": None, "new": "0"}
    assert update.action == "customer.updated"
    assert update.diff == {"channel_limit": {"old": 10, "new": 20}}  # unchanged fields left out
    assert update.correlation_id == updated.headers["x-request-id"]
    assert delete.action == "customer.deleted"
    assert delete.diff is not None
    assert delete.diff["channel_limit"] == {"old": 20, "new": None}
    for event in (create, update, delete):
        assert (event.actor_kind, event.actor_id, event.actor_label) == (
            "operator",
            str(owner.id),
            owner.email,
        )
        assert event.source_address == "203.0.113.50"
        assert event.object_type == "customer"


async def test_a_rolled_back_write_leaves_no_entry(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock, database: Database
) -> None:
    owner = await make_operator(switch_app)
    headers = bearer((await login(switch, owner, clock))["access_token"])
    body = {"name": "Twice", "currency": "EUR"}
    assert (await switch.post("/v1/customers", json=body, headers=headers)).status_code == 201
    assert (await switch.post("/v1/customers", json=body, headers=headers)).status_code == 409
    assert len(await events(database, action="customer.created")) == 1


async def test_secrets_never_reach_the_audit_log(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock, database: Database
) -> None:
    newcomer = await make_operator(switch_app, with_totp=False, must_change_password=True)
    tokens = await login(switch, newcomer, clock)
    assert tokens["restrictions"] == ["password_change", "totp_enrolment"]
    headers = bearer(tokens["access_token"])
    new_password = "a much better passphrase"
    changed = await switch.post(
        "/v1/auth/password",
        json={"current_password": newcomer.password, "new_password": new_password},
        headers=headers,
    )
    assert changed.status_code == 204
    enrolment = (await switch.post("/v1/auth/totp/enrol", headers=headers)).json()
    secret = enrolment["secret"]
    codes = (
        await switch.post(
            "/v1/auth/totp/confirm",
            json={"code": pyotp.TOTP(secret).at(clock.now)},
            headers=headers,
        )
    ).json()["recovery_codes"]
    key = (await switch.post("/v1/api-keys", json={"name": "k"}, headers=headers)).status_code
    assert key == 403  # still restricted: it must log in again with its new factor

    updates = await events(database, action="operator.updated", object_id=str(newcomer.id))
    diffs = [event.diff for event in updates]
    assert {"password_hash", "must_change_password"} <= diffs[0].keys()  # type: ignore[union-attr]
    assert diffs[0]["password_hash"] == {"old": "[redacted]", "new": "[redacted]"}  # type: ignore[index]
    assert any(
        d is not None and d.get("totp_secret") == {"old": None, "new": "[redacted]"} for d in diffs
    )

    async with database.session() as session:
        row = await session.get(Operator, newcomer.id)
        assert row is not None
        dump = str((await session.execute(text("SELECT * FROM audit_events"))).all())
    for secret_text in (
        newcomer.password,
        new_password,
        row.password_hash,
        secret,
        row.totp_secret,
        *codes,
    ):
        assert secret_text is not None
        assert secret_text not in dump


async def test_login_attempts_are_recorded_with_outcome_and_source(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock, database: Database
) -> None:
    operator = await make_operator(switch_app)
    await switch.post("/v1/auth/login", json={"email": operator.email, "password": "wrong one"})
    await switch.post("/v1/auth/login", json={"email": "ghost@x.example", "password": "wrong"})
    await login(switch, operator, clock)
    attempts = await events(database, action="auth.login")
    assert [(e.outcome, e.actor_kind) for e in attempts] == [
        ("bad_password", "operator"),
        ("unknown_account", "anonymous"),
        ("success", "operator"),
    ]
    assert {e.source_address for e in attempts} == {"198.51.100.10"}
    assert attempts[1].actor_label == "ghost@x.example"


async def test_writes_through_customer_api_are_recorded_with_the_tenant(
    customer_app: FastAPI, customer: httpx.AsyncClient, clock: FakeClock, database: Database
) -> None:
    user = await make_customer_user(customer_app)
    headers = bearer((await login(customer, user, clock))["access_token"])
    created = await customer.post("/v1/api-keys", json={"name": "ci"}, headers=headers)
    assert created.status_code == 201
    (event,) = await events(database, action="api_key.created")
    assert event.tenant_id == user.customer_id
    assert event.actor_kind == "customer_user"
    assert event.diff is not None
    assert event.diff["key_hash"] == {"old": None, "new": "[redacted]"}
    assert event.diff["name"] == {"old": None, "new": "ci"}


async def test_the_audit_log_is_searchable_and_paged(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> None:
    owner = await make_operator(switch_app)
    headers = bearer((await login(switch, owner, clock))["access_token"])
    zone_ids = []
    for i in range(5):
        zone = await switch.post("/v1/zones", json={"name": f"zone-{i}"}, headers=headers)
        zone_ids.append(zone.json()["id"])

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"object_type": "zone", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await switch.get("/v1/audit-events", params=params, headers=headers)).json()
        seen += [e["object_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == zone_ids[::-1]  # newest first

    one = await switch.get("/v1/audit-events", params={"object_id": zone_ids[2]}, headers=headers)
    assert [e["action"] for e in one.json()["items"]] == ["zone.created"]
    by_actor = await switch.get(
        "/v1/audit-events",
        params={"actor_id": str(owner.id), "action": "auth.login"},
        headers=headers,
    )
    assert [e["outcome"] for e in by_actor.json()["items"]] == ["success"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = await switch.get("/v1/audit-events", params={"since": future}, headers=headers)
    assert later.json()["items"] == []
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    window = await switch.get(
        "/v1/audit-events",
        params={"since": past, "until": future, "object_type": "zone"},
        headers=headers,
    )
    assert len(window.json()["items"]) == 5
    naive = await switch.get(
        "/v1/audit-events", params={"since": "2026-01-01T00:00:00"}, headers=headers
    )
    assert naive.status_code == 400
