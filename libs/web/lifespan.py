"""What the login-bearing APIs set up at start: database, bus, identity; and tear down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from libs.config import IdentitySettings, ServiceSettings
from libs.db import Database
from libs.identity import BusSecurityEvents, IdentityContext, ensure_builtin_roles
from libs.node import bus_connector
from libs.security import PrincipalKind

__all__ = ["identity_lifespan"]


def identity_lifespan(
    settings: ServiceSettings,
    identity_settings: IdentitySettings,
    *,
    service: str,
    kind: PrincipalKind,
    clock: Callable[[], float] | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that opens the database and the bus and builds the identity context.

    ``/readyz`` checks the database only: NATS carries security events, which are best effort
    (the audit log is the reference), so an API stays usable while NATS is down.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database.url.get_secret_value())
        connector = bus_connector(settings.nats, name=f"{service}:{settings.node_id}")
        events = BusSecurityEvents(connector)
        # Building the password service hashes once at full cost: not on the event loop.
        identity = await asyncio.to_thread(
            IdentityContext.from_settings,
            identity_settings,
            kind=kind,
            service=service,
            clock=clock or time.time,
            events=events,
        )
        if kind is PrincipalKind.OPERATOR:
            await _ensure_roles(database)
        connector.start()
        app.state.database = database
        app.state.identity = identity
        app.state.bus = connector
        app.state.readiness = {"database": database.ping}
        try:
            yield
        finally:
            await events.drain(2.0)
            await connector.close()
            await database.dispose()

    return lifespan


async def _ensure_roles(database: Database) -> None:
    for attempt in range(2):
        async with database.session() as session:
            try:
                await ensure_builtin_roles(session)
                await session.commit()
                return
            except IntegrityError:
                # Another replica created them at the same moment: look again.
                await session.rollback()
                if attempt:
                    raise
