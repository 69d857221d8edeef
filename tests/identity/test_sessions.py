"""Sessions: short access tokens, rotating refresh tokens, reuse detection, logout."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from libs.db import Database
from libs.db.models import AuditEvent, AuthSession
from tests.identity.factories import FakeClock, bearer, login, make_customer_user, make_operator


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/v1/auth/refresh", json={"refresh_token": token})


async def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_session(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock, database: Database
) -> None:
    operator = await make_operator(switch_app)
    first = await login(switch, operator, clock)

    second = await refresh(switch, first["refresh_token"])
    assert second.status_code == 200
    second_tokens = second.json()
    assert second_tokens["refresh_token"] != first["refresh_token"]
    third = await refresh(switch, second_tokens["refresh_token"])
    assert third.status_code == 200
    live = third.json()
    assert (
        await switch.get("/v1/auth/me", headers=bearer(live["access_token"]))
    ).status_code == 200

    # Someone replays an already-rotated token: the whole family is revoked.
    replay = await refresh(switch, first["refresh_token"])
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]
    assert (await refresh(switch, live["refresh_token"])).status_code == 401
    me = await switch.get("/v1/auth/me", headers=bearer(live["access_token"]))
    assert me.status_code == 401

    async with database.session() as session:
        (auth_session,) = (await session.scalars(select(AuthSession))).all()
        assert auth_session.revoked_reason == "refresh_token_reused"
        outcomes = (
            await session.scalars(
                select(AuditEvent.outcome).where(AuditEvent.action == "auth.refresh")
            )
        ).all()
        assert outcomes == ["refresh_token_reused"]

    # Other sessions of the same person are not affected.
    other = await login(switch, operator, clock)
    assert (await refresh(switch, other["refresh_token"])).status_code == 200


async def test_logout_ends_the_session_at_once(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> None:
    operator = await make_operator(switch_app)
    tokens = await login(switch, operator, clock)
    headers = bearer(tokens["access_token"])
    assert (await switch.post("/v1/auth/logout", headers=headers)).status_code == 204
    assert (await switch.get("/v1/auth/me", headers=headers)).status_code == 401
    assert (await refresh(switch, tokens["refresh_token"])).status_code == 401


async def test_access_tokens_expire_and_refresh_renews_them(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> None:
    operator = await make_operator(switch_app)
    tokens = await login(switch, operator, clock)
    clock.advance(899)
    assert (
        await switch.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
    ).status_code == 200
    clock.advance(1)
    expired = await switch.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    assert expired.headers["www-authenticate"] == "Bearer"
    renewed = (await refresh(switch, tokens["refresh_token"])).json()
    assert (
        await switch.get("/v1/auth/me", headers=bearer(renewed["access_token"]))
    ).status_code == 200
    # The session itself ends after refresh_token_ttl (30 days).
    clock.advance(30 * 86400)
    assert (await refresh(switch, renewed["refresh_token"])).status_code == 401


async def test_tampered_and_foreign_tokens_are_refused(
    switch_app: FastAPI,
    customer_app: FastAPI,
    switch: httpx.AsyncClient,
    customer: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    operator = await make_operator(switch_app)
    user = await make_customer_user(customer_app)
    operator_tokens = await login(switch, operator, clock)
    customer_tokens = await login(customer, user, clock)

    # Both APIs share the signing key, so a token's kind is what keeps them apart.
    for client, token in (
        (customer, operator_tokens["access_token"]),
        (switch, customer_tokens["access_token"]),
    ):
        response = await client.get("/v1/auth/me", headers=bearer(token))
        assert response.status_code == 401
    assert (await refresh(customer, operator_tokens["refresh_token"])).status_code == 401
    assert (await refresh(switch, customer_tokens["refresh_token"])).status_code == 401

    header, payload, signature = operator_tokens["access_token"].split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    for token in (f"{header}.{payload}.{flipped}", "garbage", operator_tokens["refresh_token"]):
        assert (await switch.get("/v1/auth/me", headers=bearer(token))).status_code == 401
    assert (await switch.get("/v1/auth/me")).status_code == 401


async def test_a_disabled_operator_is_refused_at_once(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> None:
    owner = await make_operator(switch_app)
    other = await make_operator(switch_app, role="read-only")
    owner_headers = bearer((await login(switch, owner, clock))["access_token"])
    other_tokens = await login(switch, other, clock)
    disabled = await switch.patch(
        f"/v1/operators/{other.id}", json={"disabled": True}, headers=owner_headers
    )
    assert disabled.status_code == 200
    assert (
        await switch.get("/v1/auth/me", headers=bearer(other_tokens["access_token"]))
    ).status_code == 401
    assert (await refresh(switch, other_tokens["refresh_token"])).status_code == 401


async def test_source_allow_lists_apply_at_login_and_on_every_request(
    switch_app: FastAPI, clock: FakeClock
) -> None:
    from tests.apps import client_for

    operator = await make_operator(switch_app, allowed_sources=["10.0.0.0/8", "2001:db8::/32"])
    async with client_for(switch_app, "198.51.100.1") as outside:
        body = {
            "email": operator.email,
            "password": operator.password,
            "totp_code": operator.code(clock),
        }
        assert (await outside.post("/v1/auth/login", json=body)).status_code == 401
    async with client_for(switch_app, "10.20.30.40") as inside:
        tokens = await login(inside, operator, clock)
        assert (
            await inside.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
        ).status_code == 200
    async with client_for(switch_app, "198.51.100.1") as outside:
        stolen = await outside.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
        assert stolen.status_code == 403
        assert (await refresh(outside, tokens["refresh_token"])).status_code == 403
