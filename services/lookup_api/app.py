"""lookup_api: high requests-per-second number, rate and route lookups.

Its data comes from the live configuration on NATS, never from the database: the hot path
touches only in-memory indexes. It is ready once NATS is reachable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.node import bus_connector
from libs.web import build_app
from services.lookup_api.config import LookupApiSettings

VERSION = "0.1.0"


def create_app(settings: LookupApiSettings | None = None) -> FastAPI:
    settings = settings or LookupApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        connector = bus_connector(settings.nats, name=f"lookup_api:{settings.node_id}")
        connector.start()

        async def nats_connected() -> None:
            if not connector.connected:
                raise ConnectionError("not connected to NATS")

        app.state.bus = connector
        app.state.readiness = {"nats": nats_connected}
        try:
            yield
        finally:
            await connector.close()

    return build_app(
        title="Tandem lookup API",
        version=VERSION,
        description="Number intelligence, rate and route lookups at high request rates.",
        routers=[],
        lifespan=lifespan,
        trusted_proxies=settings.http.trusted_proxies,
    )
