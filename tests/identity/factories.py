"""Small factories for identity tests: settings with fresh keys, people, logins, a fake clock."""

from __future__ import annotations

import base64
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyotp
from fastapi import FastAPI

from libs.db import Database
from libs.db.models import Customer, CustomerUser, CustomerUserRole, Operator, OperatorRole
from libs.identity import IdentityContext
from libs.identity.people import totp_associated_data
from libs.identity.permissions import Access, Area, full, to_json
from libs.platform.natsd import free_port
from libs.security import totp

PASSWORD = "correct horse battery staple"


def key_spec(key_id: str = "k1", size: int = 32) -> str:
    """``id:base64`` of fresh random bytes, as a key ring spec entry."""
    return f"{key_id}:{base64.b64encode(os.urandom(size)).decode()}"


def identity_settings(**overrides: Any) -> dict[str, Any]:
    """IdentitySettings with keys generated now and a cheap Argon2 cost (tests only)."""
    return {
        "peppers": key_spec("p1"),
        "encryption_keys": key_spec("e1"),
        "signing_keys": key_spec("s1"),
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        **overrides,
    }


def unreachable_nats() -> dict[str, Any]:
    """NATS settings naming a port nobody listens on (never the system's 4222 or 14222)."""
    return {"servers": [f"nats://127.0.0.1:{free_port()}"], "connect_timeout": 0.2}


class FakeClock:
    """Unix seconds that only move when told to."""

    def __init__(self, start: float | None = None) -> None:
        self.now = start if start is not None else float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class TestPerson:
    """A person the tests created, with what they need to log in."""

    __test__ = False

    id: uuid.UUID
    email: str
    password: str
    totp_secret: str | None
    customer_id: uuid.UUID | None = None
    last_step: int | None = field(default=None, repr=False)

    def code(self, clock: FakeClock) -> str:
        """A TOTP code the server has not seen yet (moves the clock a step if needed)."""
        assert self.totp_secret is not None
        if self.last_step is not None and totp.time_step(clock.now) <= self.last_step:
            clock.advance(30 * (self.last_step - totp.time_step(clock.now) + 1))
        self.last_step = totp.time_step(clock.now)
        return pyotp.TOTP(self.totp_secret).at(clock.now)


def _identity(app: FastAPI) -> IdentityContext:
    identity: IdentityContext = app.state.identity
    return identity


async def make_role(
    app: FastAPI, name: str | None = None, permissions: dict[Area, Access] | None = None
) -> uuid.UUID:
    """A custom operator role (``permissions`` default: none anywhere)."""
    database: Database = app.state.database
    async with database.session() as session:
        role = OperatorRole(
            name=name or f"role-{uuid.uuid4().hex[:8]}",
            description="",
            builtin=False,
            permissions=to_json(full(permissions)),
        )
        session.add(role)
        await session.commit()
        return role.id


async def _role_id(app: FastAPI, name: str) -> uuid.UUID:
    from sqlalchemy import select

    database: Database = app.state.database
    async with database.session() as session:
        role = (await session.scalars(select(OperatorRole).where(OperatorRole.name == name))).one()
        return role.id


async def make_operator(
    app: FastAPI,
    *,
    role: str | uuid.UUID = "owner",
    email: str | None = None,
    password: str = PASSWORD,
    with_totp: bool = True,
    must_change_password: bool = False,
    allowed_sources: list[str] | None = None,
    disabled: bool = False,
) -> TestPerson:
    """An operator stored directly (as if already through enrolment unless told otherwise)."""
    identity = _identity(app)
    email = email or f"op-{uuid.uuid4().hex[:8]}@carrier.example"
    role_id = role if isinstance(role, uuid.UUID) else await _role_id(app, role)
    operator = Operator(
        id=uuid.uuid4(),
        email=email,
        name="",
        role_id=role_id,
        password_hash=identity.passwords.hash(password, email),
        must_change_password=must_change_password,
        allowed_sources=allowed_sources or [],
        disabled=disabled,
    )
    secret = totp.new_secret() if with_totp else None
    if secret is not None:
        operator.totp_secret = identity.encryption.encrypt(
            secret.encode(), totp_associated_data(operator)
        )
    database: Database = app.state.database
    async with database.session() as session:
        session.add(operator)
        await session.commit()
    return TestPerson(operator.id, email, password, secret)


async def make_customer(app: FastAPI, name: str | None = None) -> uuid.UUID:
    database: Database = app.state.database
    async with database.session() as session:
        customer = Customer(name=name or f"Customer {uuid.uuid4().hex[:6]}", currency="EUR")
        session.add(customer)
        await session.commit()
        return customer.id


async def make_customer_user(
    app: FastAPI,
    *,
    customer_id: uuid.UUID | None = None,
    role: CustomerUserRole = CustomerUserRole.ADMIN,
    email: str | None = None,
    password: str = PASSWORD,
    with_totp: bool = False,
    allowed_sources: list[str] | None = None,
) -> TestPerson:
    """A customer's user (and a customer for them, unless given)."""
    identity = _identity(app)
    customer_id = customer_id or await make_customer(app)
    email = email or f"user-{uuid.uuid4().hex[:8]}@customer.example"
    user = CustomerUser(
        id=uuid.uuid4(),
        customer_id=customer_id,
        email=email,
        name="",
        role=role,
        password_hash=identity.passwords.hash(password, email),
        must_change_password=False,
        allowed_sources=allowed_sources or [],
        disabled=False,
    )
    secret = totp.new_secret() if with_totp else None
    if secret is not None:
        user.totp_secret = identity.encryption.encrypt(secret.encode(), totp_associated_data(user))
    database: Database = app.state.database
    async with database.session() as session:
        session.add(user)
        await session.commit()
    return TestPerson(user.id, email, password, secret, customer_id=customer_id)


async def login(
    client: httpx.AsyncClient, person: TestPerson, clock: FakeClock, **extra: Any
) -> dict[str, Any]:
    """Log in (with a fresh TOTP code when the person has TOTP); the tokens, or fail."""
    body: dict[str, Any] = {"email": person.email, "password": person.password, **extra}
    if person.totp_secret is not None and "totp_code" not in extra and "recovery_code" not in extra:
        body["totp_code"] = person.code(clock)
    response = await client.post("/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
