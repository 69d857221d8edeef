"""Logins: same answer for unknown accounts, the delay schedule, lockout and its lifting."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from libs.db import Database
from libs.db.models import AuditEvent, LoginThrottle
from libs.identity import IdentityContext
from libs.security import PasswordService
from tests.apps import client_for
from tests.identity.factories import FakeClock, bearer, login, make_operator

WRONG = "not the password at all"


class CountingPasswords:
    """Wraps the app's PasswordService to count the Argon2 work each request does."""

    def __init__(self, inner: PasswordService) -> None:
        self.inner = inner
        self.verifies = 0

    def verify(self, stored: str, password: str, email: str) -> bool:
        self.verifies += 1
        return self.inner.verify(stored, password, email)

    def dummy_verify(self, password: str) -> bool:
        self.verifies += 1
        return self.inner.dummy_verify(password)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def counting(app: FastAPI) -> CountingPasswords:
    identity: IdentityContext = app.state.identity
    wrapped = CountingPasswords(identity.passwords)
    identity.passwords = wrapped  # type: ignore[assignment]
    return wrapped


async def attempt(
    client: httpx.AsyncClient, email: str, password: str, **extra: Any
) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": email, "password": password, **extra})


async def test_a_login_gives_tokens_that_work(
    switch: httpx.AsyncClient, switch_app: FastAPI, clock: FakeClock
) -> None:
    operator = await make_operator(switch_app)
    tokens = await login(switch, operator, clock)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    assert tokens["refresh_token"].startswith("tdm_refresh_")
    assert tokens["restrictions"] == []
    me = await switch.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["user_id"] == str(operator.id)
    assert me.json()["permissions"]["customers"] == "write"


async def test_unknown_email_costs_a_verification_and_gets_the_same_answer(
    switch: httpx.AsyncClient, switch_app: FastAPI
) -> None:
    operator = await make_operator(switch_app)
    passwords = counting(switch_app)

    wrong_password = await attempt(switch, operator.email, WRONG)
    assert passwords.verifies == 1
    unknown = await attempt(switch, "nobody@carrier.example", WRONG)
    assert passwords.verifies == 2  # the dummy verification: no timing difference

    assert wrong_password.status_code == unknown.status_code == 401
    strip = {"correlation_id", "instance"}
    assert {k: v for k, v in wrong_password.json().items() if k not in strip} == {
        k: v for k, v in unknown.json().items() if k not in strip
    }


async def test_failed_attempts_are_delayed_exponentially_per_account(
    switch_app: FastAPI, clock: FakeClock
) -> None:
    """Each attempt from a new source address: only the account's throttle applies."""
    operator = await make_operator(switch_app)
    passwords = counting(switch_app)
    sources = (f"203.0.113.{i}" for i in range(1, 200))

    async def try_once(password: str = WRONG) -> httpx.Response:
        async with client_for(switch_app, next(sources)) as client:
            return await attempt(client, operator.email, password)

    # Two free failures, then 1 s, 2 s, 4 s ... 64 s after each further failure.
    assert (await try_once()).status_code == 401
    assert (await try_once()).status_code == 401
    for delay in (1, 2, 4, 8, 16, 32, 64):
        assert (await try_once()).status_code == 401
        before = passwords.verifies
        refused = await try_once(operator.password)  # even the right password waits
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == str(delay)
        assert passwords.verifies == before, "a refused attempt must not try the password"
        clock.advance(delay - 0.5)
        assert (await try_once()).status_code == 429
        clock.advance(0.5)
    # Failure 10 locks the account for 15 minutes, the correct password included.
    assert (await try_once()).status_code == 401
    locked = await try_once(operator.password)
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "900"
    assert "locked" in locked.json()["detail"]
    # Bounded: after the lockout, the right password works and resets the counter.
    clock.advance(900)
    assert (await try_once(operator.password + "")).status_code == 401  # no TOTP code yet
    ok = await try_once_with_code(switch_app, operator, clock)
    assert ok.status_code == 200


async def try_once_with_code(app: FastAPI, operator: Any, clock: FakeClock) -> httpx.Response:
    async with client_for(app, "192.0.2.77") as client:
        return await attempt(
            client, operator.email, operator.password, totp_code=operator.code(clock)
        )


async def test_failed_attempts_are_delayed_per_source_address(
    switch: httpx.AsyncClient, switch_app: FastAPI
) -> None:
    """A password sprayer trying many accounts from one address is slowed down too."""
    for i in range(3):
        assert (await attempt(switch, f"victim{i}@carrier.example", WRONG)).status_code == 401
    refused = await attempt(switch, "victim9@carrier.example", WRONG)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    # Another address is not affected.
    async with client_for(switch_app, "192.0.2.1") as elsewhere:
        assert (await attempt(elsewhere, "victim9@carrier.example", WRONG)).status_code == 401


async def test_a_success_resets_the_counters(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> None:
    operator = await make_operator(switch_app)
    for _ in range(2):
        assert (await attempt(switch, operator.email, WRONG)).status_code == 401
    await login(switch, operator, clock)
    for _ in range(2):
        assert (await attempt(switch, operator.email, WRONG)).status_code == 401
    # Without the reset these would be failures 4 and 5, and this attempt would wait.
    assert (await attempt(switch, operator.email, WRONG)).status_code == 401


async def test_a_locked_account_is_unlocked_by_an_operator(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock, database: Database
) -> None:
    owner = await make_operator(switch_app)
    victim = await make_operator(switch_app, role="read-only")
    async with client_for(switch_app, "192.0.2.66") as attacker:
        for _ in range(10):
            response = await attempt(attacker, victim.email, WRONG)
            assert response.status_code == 401
            clock.advance(64)
        locked = await attempt(attacker, victim.email, victim.password)
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) > 800

    # The victim, from another address, is locked out as well (the lock is the account's).
    async with client_for(switch_app, "192.0.2.99") as office:
        body = {"totp_code": victim.code(clock)}
        assert (await attempt(office, victim.email, victim.password, **body)).status_code == 429

        owner_tokens = await login(switch, owner, clock)
        throttles = await switch.get(
            "/v1/login-throttles",
            params={"locked_only": True},
            headers=bearer(owner_tokens["access_token"]),
        )
        assert throttles.status_code == 200
        assert {t["failures"] for t in throttles.json()["items"]} == {10}
        unlocked = await switch.post(
            f"/v1/operators/{victim.id}/unlock", headers=bearer(owner_tokens["access_token"])
        )
        assert unlocked.status_code == 204
        body = {"totp_code": victim.code(clock)}
        assert (await attempt(office, victim.email, victim.password, **body)).status_code == 200

    # The attacker's address stays throttled until an operator lifts that too.
    async with client_for(switch_app, "192.0.2.66") as attacker:
        assert (await attempt(attacker, victim.email, WRONG)).status_code == 429
        source = (
            await switch.get("/v1/login-throttles", headers=bearer(owner_tokens["access_token"]))
        ).json()
        (row,) = [t for t in source["items"] if t["key"] == "source:192.0.2.66"]
        lifted = await switch.delete(
            f"/v1/login-throttles/{row['id']}", headers=bearer(owner_tokens["access_token"])
        )
        assert lifted.status_code == 204
        assert (await attempt(attacker, victim.email, WRONG)).status_code == 401

    async with database.session() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
        assert "login_throttle.deleted" in actions


async def test_parallel_attempts_cannot_skip_the_delay(
    switch_app: FastAPI, switch: httpx.AsyncClient, database: Database
) -> None:
    """Each attempt is counted before its password is checked."""
    import asyncio

    operator = await make_operator(switch_app)
    for _ in range(3):
        await attempt(switch, operator.email, WRONG)
    results = await asyncio.gather(*(attempt(switch, operator.email, WRONG) for _ in range(5)))
    assert {r.status_code for r in results} == {429}
    async with database.session() as session:
        rows = (await session.scalars(select(LoginThrottle))).all()
        assert {row.failures for row in rows} == {3}


@pytest.mark.parametrize("field", ["email", "password"])
async def test_oversized_input_is_refused_before_any_work(
    switch: httpx.AsyncClient, switch_app: FastAPI, field: str
) -> None:
    passwords = counting(switch_app)
    body = {"email": "a@carrier.example", "password": "x", field: "x" * 5000}
    response = await switch.post("/v1/auth/login", json=body)
    assert response.status_code == 422
    assert passwords.verifies == 0


async def test_forgotten_failures_and_refused_guesses_leave_no_rows(
    switch: httpx.AsyncClient, database: Database, clock: FakeClock
) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.fromtimestamp(clock.now, UTC)
    async with database.session() as session:
        session.add(LoginThrottle(key="source:192.0.2.200", failures=5, last_failure_at=now))
        session.add(
            LoginThrottle(
                key="source:192.0.2.201", failures=9, last_failure_at=now - timedelta(days=2)
            )
        )
        await session.commit()
    for i in range(3):
        await attempt(switch, f"spray{i}@carrier.example", WRONG)
    for i in range(3, 20):  # the source is delayed now: these are refused
        assert (await attempt(switch, f"spray{i}@carrier.example", WRONG)).status_code == 429
    async with database.session() as session:
        keys = set((await session.scalars(select(LoginThrottle.key))).all())
    assert "source:192.0.2.201" not in keys  # older than a day: forgotten, purged
    assert "source:192.0.2.200" in keys
    assert len(keys) == 1 + 1 + 3  # the recent one, this source, three tried accounts
