"""Passwords through the API: the pepper, transparent rehashing, and the NIST rules."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from libs.db import Database
from libs.db.models import AuditEvent, Operator
from libs.security import ArgonCost, PasswordService, PepperRing
from services.switch_api.app import create_app
from services.switch_api.config import SwitchApiSettings
from tests.apps import client_for
from tests.identity.factories import (
    FakeClock,
    bearer,
    key_spec,
    login,
    make_operator,
    unreachable_nats,
)


@asynccontextmanager
async def other_switch_api(
    database_url: str, clock: FakeClock, identity: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    """A second switch_api on the same database, with other identity settings."""
    app = create_app(
        SwitchApiSettings(
            environment="test",
            database={"url": database_url},
            identity=identity,
            nats=unreachable_nats(),
        ),
        clock=clock,
    )
    async with app.router.lifespan_context(app), client_for(app) as client:
        yield client


async def stored_hash(database: Database, email: str) -> str:
    async with database.session() as session:
        operator = (await session.scalars(select(Operator).where(Operator.email == email))).one()
        return operator.password_hash


async def test_the_database_alone_cannot_verify_a_password(
    switch_app: FastAPI,
    switch: httpx.AsyncClient,
    clock: FakeClock,
    database: Database,
    database_url: str,
    identity_config: dict[str, Any],
) -> None:
    operator = await make_operator(switch_app)
    await login(switch, operator, clock)  # the real pepper: works
    stored = await stored_hash(database, operator.email)
    assert operator.password not in stored

    # Someone with the whole database (and the code, and the pepper's id) but not the pepper:
    guessed = PasswordService(PepperRing.from_spec(key_spec("p1")), ArgonCost.cheap())
    assert guessed.verify(stored, operator.password, operator.email) is False

    # The same API with every secret but the pepper refuses the right password.
    stolen = {**identity_config, "peppers": key_spec("p1")}
    async with other_switch_api(database_url, clock, stolen) as thief:
        response = await thief.post(
            "/v1/auth/login",
            json={
                "email": operator.email,
                "password": operator.password,
                "totp_code": operator.code(clock),
            },
        )
        assert response.status_code == 401


async def test_a_new_pepper_or_cost_rehashes_at_the_next_login(
    switch_app: FastAPI,
    clock: FakeClock,
    database: Database,
    database_url: str,
    identity_config: dict[str, Any],
) -> None:
    operator = await make_operator(switch_app)
    old = await stored_hash(database, operator.email)
    assert "$kid=p1$" in old
    assert "m=1024,t=1,p=1" in old

    old_pepper = identity_config["peppers"]
    rotated = {
        **identity_config,
        "peppers": f"{key_spec('p2')},{old_pepper}",  # p2 current, p1 still accepted
        "argon2_memory_kib": 2048,
    }
    async with other_switch_api(database_url, clock, rotated) as api:
        await login(api, operator, clock)
        new = await stored_hash(database, operator.email)
        assert "$kid=p2$" in new
        assert "m=2048,t=1,p=1" in new
        await login(api, operator, clock)  # and the new hash verifies

    # Once every hash is rehashed, the old pepper can leave the ring.
    only_new = {**rotated, "peppers": rotated["peppers"].split(",")[0]}
    async with other_switch_api(database_url, clock, only_new) as api:
        await login(api, operator, clock)


@pytest.fixture
async def session(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> tuple[Any, dict[str, str]]:
    operator = await make_operator(switch_app, email="alice.liddell@wonder.example")
    tokens = await login(switch, operator, clock)
    return operator, bearer(tokens["access_token"])


async def change(
    switch: httpx.AsyncClient, headers: dict[str, str], current: str, new: str
) -> httpx.Response:
    return await switch.post(
        "/v1/auth/password",
        json={"current_password": current, "new_password": new},
        headers=headers,
    )


@pytest.mark.parametrize(
    ("new_password", "code"),
    [
        ("password", "known_password"),
        ("iloveyou", "known_password"),
        ("Baseball1", "known_password"),
        ("seven77", "too_short"),
        ("x" * 6 + "é", "too_short"),
        ("a long passphrase " * 15, "too_long"),  # 270 characters
        ("aaaaaaaaaaaa", "repetitive"),
        ("abcdefghijkl", "repetitive"),
        ("liddell rules the world", "context_word"),
        ("my tandem switch password", "context_word"),
    ],
)
async def test_weak_new_passwords_are_refused_with_the_reason(
    switch: httpx.AsyncClient,
    session: tuple[Any, dict[str, str]],
    new_password: str,
    code: str,
) -> None:
    operator, headers = session
    response = await change(switch, headers, operator.password, new_password)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert code in {e["type"] for e in errors}
    assert all(e["loc"] == ["body", "new_password"] for e in errors)


async def test_long_unicode_and_space_passwords_are_accepted_whole(
    switch: httpx.AsyncClient,
    session: tuple[Any, dict[str, str]],
    clock: FakeClock,
) -> None:
    operator, headers = session
    # 64 characters, spaces and emoji allowed, no composition rules.
    sixty_four = "ü ☎ " + "pale blue ocean waves at dawn, " * 2
    sixty_four = sixty_four[:64]
    assert len(sixty_four) == 64
    assert (await change(switch, headers, operator.password, sixty_four)).status_code == 204
    operator.password = sixty_four
    await login(switch, operator, clock)

    # 200 characters: none of it is cut off. bcrypt would stop at 72 bytes.
    long = "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich! " * 3 + "ÆØÅ 🚀 end"
    assert len(long) > 180
    tokens = await login(switch, operator, clock)
    headers = bearer(tokens["access_token"])
    assert (await change(switch, headers, operator.password, long)).status_code == 204
    for near_miss in (long[:72], long[:-1], long[:-1] + "E"):
        response = await switch.post(
            "/v1/auth/login",
            json={
                "email": operator.email,
                "password": near_miss,
                "totp_code": operator.code(clock),
            },
        )
        assert response.status_code == 401
    operator.password = long
    await login(switch, operator, clock)

    # Unicode is normalised (NFKC): the same text typed as decomposed characters logs in.
    decomposed = unicodedata.normalize("NFD", long)
    assert decomposed != long
    operator.password = decomposed
    await login(switch, operator, clock)


async def test_the_current_password_is_required_and_counted(
    switch: httpx.AsyncClient, session: tuple[Any, dict[str, str]]
) -> None:
    operator, headers = session
    wrong = await change(switch, headers, "not my password", "a perfectly fine passphrase")
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["loc"] == ["body", "current_password"]
    for _ in range(2):
        await change(switch, headers, "not my password", "a perfectly fine passphrase")
    # Three wrong guesses: the account's login throttle applies here too.
    throttled = await change(switch, headers, operator.password, "a perfectly fine passphrase")
    assert throttled.status_code == 429


async def test_a_password_change_ends_the_other_sessions(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock, database: Database
) -> None:
    operator = await make_operator(switch_app)
    laptop = await login(switch, operator, clock)
    phone = await login(switch, operator, clock)
    changed = await change(
        switch, bearer(laptop["access_token"]), operator.password, "new and quite long secret"
    )
    assert changed.status_code == 204
    assert (
        await switch.get("/v1/auth/me", headers=bearer(laptop["access_token"]))
    ).status_code == 200
    assert (
        await switch.get("/v1/auth/me", headers=bearer(phone["access_token"]))
    ).status_code == 401
    refreshed = await switch.post(
        "/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}
    )
    assert refreshed.status_code == 401

    async with database.session() as db:
        (event,) = (
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "operator.updated",
                    AuditEvent.object_id == str(operator.id),
                )
            )
        ).all()
        assert event.diff is not None
        assert event.diff["password_hash"] == {"old": "[redacted]", "new": "[redacted]"}
