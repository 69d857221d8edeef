"""Two-factor authentication: enrolment, replay refusal, recovery codes, customers' choice."""

from __future__ import annotations

import base64

import httpx
import pyotp
from fastapi import FastAPI
from sqlalchemy import select

from libs.db import Database
from libs.db.models import CustomerUser, Operator, RecoveryCode
from libs.security import totp
from tests.identity.factories import (
    FakeClock,
    TestPerson,
    bearer,
    login,
    make_customer_user,
    make_operator,
)


async def enrol(
    client: httpx.AsyncClient, headers: dict[str, str], clock: FakeClock
) -> tuple[str, list[str]]:
    """Enrol TOTP through the API; returns the secret and the recovery codes."""
    started = await client.post("/v1/auth/totp/enrol", headers=headers)
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert "issuer=Tandem" in body["otpauth_uri"]
    assert base64.b64decode(body["qr_png_base64"]).startswith(b"\x89PNG\r\n\x1a\n")
    secret = body["secret"]
    assert secret in body["otpauth_uri"]
    wrong = await client.post("/v1/auth/totp/confirm", json={"code": "000000"}, headers=headers)
    if pyotp.TOTP(secret).at(clock.now) != "000000":
        assert wrong.status_code == 422
    confirmed = await client.post(
        "/v1/auth/totp/confirm", json={"code": pyotp.TOTP(secret).at(clock.now)}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    return secret, codes


async def test_an_operator_without_totp_can_only_enrol(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock, database: Database
) -> None:
    operator = await make_operator(switch_app, with_totp=False)
    tokens = await login(switch, operator, clock)
    assert tokens["restrictions"] == ["totp_enrolment"]
    headers = bearer(tokens["access_token"])
    refused = await switch.get("/v1/customers", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["restrictions"] == ["totp_enrolment"]
    assert (await switch.get("/v1/auth/me", headers=headers)).status_code == 200

    secret, _ = await enrol(switch, headers, clock)
    async with database.session() as session:
        row = await session.get(Operator, operator.id)
        assert row is not None
        assert row.totp_secret is not None
        assert secret not in row.totp_secret
        assert row.totp_secret.startswith("v1:e1:")

    # The enrolment session stays limited: a full session needs a login with a code.
    assert (await switch.get("/v1/customers", headers=headers)).status_code == 403
    without_code = await switch.post(
        "/v1/auth/login", json={"email": operator.email, "password": operator.password}
    )
    assert without_code.status_code == 401
    assert without_code.json()["totp_required"] is True
    operator.totp_secret = secret
    operator.last_step = totp.time_step(clock.now)  # the confirmation used this step
    full = await login(switch, operator, clock)
    assert full["restrictions"] == []
    assert (
        await switch.get("/v1/customers", headers=bearer(full["access_token"]))
    ).status_code == 200


async def test_a_totp_code_is_accepted_once(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> None:
    operator = await make_operator(switch_app)
    assert operator.totp_secret is not None
    code = pyotp.TOTP(operator.totp_secret).at(clock.now)
    body = {"email": operator.email, "password": operator.password, "totp_code": code}
    assert (await switch.post("/v1/auth/login", json=body)).status_code == 200
    replay = await switch.post("/v1/auth/login", json=body)
    assert replay.status_code == 401
    # A code of an earlier step, still inside the ±1 window, is refused after a later one.
    clock.advance(30)
    newer = pyotp.TOTP(operator.totp_secret).at(clock.now + 30)
    assert (
        await switch.post("/v1/auth/login", json={**body, "totp_code": newer})
    ).status_code == 200
    older = pyotp.TOTP(operator.totp_secret).at(clock.now)
    assert (
        await switch.post("/v1/auth/login", json={**body, "totp_code": older})
    ).status_code == 401
    # Codes outside the window are refused.
    clock.advance(300)
    stale = pyotp.TOTP(operator.totp_secret).at(clock.now - 90)
    assert (
        await switch.post("/v1/auth/login", json={**body, "totp_code": stale})
    ).status_code == 401


async def test_recovery_codes_work_once_each(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock, database: Database
) -> None:
    operator = await make_operator(switch_app, with_totp=False)
    tokens = await login(switch, operator, clock)
    secret, codes = await enrol(switch, bearer(tokens["access_token"]), clock)
    async with database.session() as session:
        stored = (await session.scalars(select(RecoveryCode.code_hash))).all()
        assert len(stored) == 10
        assert not set(codes) & set(stored)

    body = {"email": operator.email, "password": operator.password}
    first = await switch.post("/v1/auth/login", json={**body, "recovery_code": codes[0]})
    assert first.status_code == 200
    again = await switch.post("/v1/auth/login", json={**body, "recovery_code": codes[0]})
    assert again.status_code == 401
    # Written loosely (lower case, no dashes), another code still works.
    loose = codes[1].replace("-", "").lower()
    assert (
        await switch.post("/v1/auth/login", json={**body, "recovery_code": loose})
    ).status_code == 200

    # New codes (with a current TOTP code) replace all the old ones.
    headers = bearer(first.json()["access_token"])
    clock.advance(30)
    renewed = await switch.post(
        "/v1/auth/recovery-codes",
        json={"code": pyotp.TOTP(secret).at(clock.now)},
        headers=headers,
    )
    assert renewed.status_code == 200
    old = await switch.post("/v1/auth/login", json={**body, "recovery_code": codes[2]})
    assert old.status_code == 401
    new = renewed.json()["recovery_codes"][0]
    assert (
        await switch.post("/v1/auth/login", json={**body, "recovery_code": new})
    ).status_code == 200


async def test_operators_cannot_remove_their_second_factor(switch: httpx.AsyncClient) -> None:
    assert "/v1/auth/totp/remove" not in (await switch.get("/openapi.json")).json()["paths"]


async def test_customer_users_choose_totp_and_need_a_code_to_remove_it(
    customer_app: FastAPI, customer: httpx.AsyncClient, clock: FakeClock, database: Database
) -> None:
    user = await make_customer_user(customer_app)
    tokens = await login(customer, user, clock)  # no second factor: a full session
    assert tokens["restrictions"] == []
    headers = bearer(tokens["access_token"])
    secret, _ = await enrol(customer, headers, clock)

    login_body = {"email": user.email, "password": user.password}
    assert (await customer.post("/v1/auth/login", json=login_body)).status_code == 401
    enrolled = TestPerson(user.id, user.email, user.password, secret)
    enrolled.last_step = totp.time_step(clock.now)
    await login(customer, enrolled, clock)

    bad = await customer.post("/v1/auth/totp/remove", json={"code": "123456"}, headers=headers)
    if pyotp.TOTP(secret).at(clock.now) != "123456":
        assert bad.status_code == 422
    clock.advance(30)
    removed = await customer.post(
        "/v1/auth/totp/remove", json={"code": pyotp.TOTP(secret).at(clock.now)}, headers=headers
    )
    assert removed.status_code == 204
    assert (await customer.post("/v1/auth/login", json=login_body)).status_code == 200
    async with database.session() as session:
        row = await session.get(CustomerUser, user.id)
        assert row is not None
        assert row.totp_secret is None
        assert not (await session.scalars(select(RecoveryCode))).all()
