"""Security events: every login attempt on the SECURITY stream of a real nats-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from libs.bus import SECURITY_STREAM, Bus, LoginAttempted, provision
from libs.db import Database
from libs.db.models import AuditEvent
from libs.platform.natsd import NatsServer
from services.customer_api.app import create_app as create_customer_app
from services.customer_api.config import CustomerApiSettings
from services.switch_api.app import create_app as create_switch_app
from services.switch_api.config import SwitchApiSettings
from tests.apps import client_for
from tests.identity.factories import FakeClock, login, make_customer_user, make_operator


@asynccontextmanager
async def api_on_bus(
    factory: Any, settings: Any, nats_url: str, clock: FakeClock
) -> AsyncIterator[FastAPI]:
    app: FastAPI = factory(settings, clock=clock)
    async with app.router.lifespan_context(app):
        await app.state.bus.wait_connected(timeout=5)
        yield app


async def stored_events(bus: Bus, expected: int) -> list[tuple[str, LoginAttempted]]:
    """The SECURITY stream's messages, once ``expected`` of them have arrived."""
    deadline = time.monotonic() + 5
    while (await bus.js.stream_info(SECURITY_STREAM)).state.messages < expected:
        assert time.monotonic() < deadline, "security events did not arrive"
        await asyncio.sleep(0.05)
    found = []
    for sequence in range(1, expected + 1):
        message = await bus.js.get_msg(SECURITY_STREAM, sequence)
        assert message.data is not None
        assert message.subject is not None
        found.append((message.subject, LoginAttempted.from_bytes(message.data)))
    return found


async def test_every_login_attempt_is_a_security_event(
    database: Database,
    database_url: str,
    identity_config: dict[str, Any],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        bus = await Bus.connect(server.url, name="security-watcher")
        try:
            await provision(bus.js)
            common = {
                "environment": "test",
                "database": {"url": database_url},
                "identity": identity_config,
                "nats": {"servers": [server.url]},
            }
            async with api_on_bus(
                create_switch_app, SwitchApiSettings(**common), server.url, clock
            ) as switch_app:
                operator = await make_operator(switch_app)
                async with client_for(switch_app, "203.0.113.7") as client:
                    await login(client, operator, clock)
                    for _ in range(3):
                        body = {"email": operator.email, "password": "wrong guess"}
                        await client.post("/v1/auth/login", json=body)
                    throttled = await client.post("/v1/auth/login", json=body)
                    assert throttled.status_code == 429
            async with api_on_bus(
                create_customer_app, CustomerApiSettings(**common), server.url, clock
            ) as customer_app:
                user = await make_customer_user(customer_app)
                async with client_for(customer_app, "2001:db8::5") as client:
                    await login(client, user, clock)

            events = await stored_events(bus, 6)
        finally:
            await bus.close()

    subjects = [subject for subject, _ in events]
    assert subjects == [
        "security.login.succeeded",
        "security.login.failed",
        "security.login.failed",
        "security.login.failed",
        "security.login.throttled",
        "security.login.succeeded",
    ]
    first, *failures, refused, customer_login = (event for _, event in events)
    assert (first.service, first.principal_kind, first.account) == (
        "switch_api",
        "operator",
        operator.email,
    )
    assert first.user_id == str(operator.id)
    assert {e.source_address for e in (first, *failures, refused)} == {"203.0.113.7"}
    assert [e.reason for e in failures] == ["bad_password"] * 3
    assert [e.consecutive_failures for e in failures] == [1, 2, 3]
    assert (refused.reason, refused.retry_after) == ("delayed", 1)
    assert (customer_login.service, customer_login.source_address) == (
        "customer_api",
        "2001:db8::5",
    )

    # The audit log holds the same attempts, with the same correlation ids.
    async with database.session() as session:
        correlation_ids = (
            await session.scalars(
                select(AuditEvent.correlation_id)
                .where(AuditEvent.action == "auth.login")
                .order_by(AuditEvent.at, AuditEvent.id)
            )
        ).all()
    assert list(correlation_ids) == [e.correlation_id for _, e in events]


async def test_logins_neither_fail_nor_wait_when_nats_goes_away(
    database: Database,
    database_url: str,
    identity_config: dict[str, Any],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    server = NatsServer(store_dir=tmp_path / "js", port=0)
    server.start()
    try:
        settings = SwitchApiSettings(
            environment="test",
            database={"url": database_url},
            identity=identity_config,
            nats={"servers": [server.url]},
        )
        async with api_on_bus(create_switch_app, settings, server.url, clock) as app:
            server.stop()  # connected first, then NATS disappears
            operator = await make_operator(app)
            async with client_for(app) as client:
                started = time.perf_counter()
                await login(client, operator, clock)
                wrong = await client.post(
                    "/v1/auth/login", json={"email": operator.email, "password": "nope nope"}
                )
                assert wrong.status_code == 401
                assert time.perf_counter() - started < 1.0
    finally:
        server.stop()
    async with database.session() as session:
        outcomes = (
            await session.scalars(
                select(AuditEvent.outcome)
                .where(AuditEvent.action == "auth.login")
                .order_by(AuditEvent.at, AuditEvent.id)
            )
        ).all()
    assert list(outcomes) == ["success", "bad_password"]
