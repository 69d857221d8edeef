"""lookup_api: high requests-per-second number, rate and route lookups.

Its data comes from the live configuration on NATS, never from the database: the hot path
touches only in-memory indexes (:mod:`~services.lookup_api.state`). API keys are verified and
limited locally (:mod:`~services.lookup_api.access`). Single lookups take the lean ASGI path
(:mod:`~services.lookup_api.fast`); batches, usage and the OpenAPI document are FastAPI's. It is
ready once NATS is reachable and the configuration has been loaded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.node import bus_connector
from libs.web import build_app
from services.lookup_api.access import Gate
from services.lookup_api.config import LookupApiSettings
from services.lookup_api.endpoints import router
from services.lookup_api.fast import front
from services.lookup_api.responder import LookupResponder
from services.lookup_api.state import LookupState

VERSION = "0.1.0"


def create_app(settings: LookupApiSettings | None = None) -> FastAPI:
    settings = settings or LookupApiSettings()
    node_id = f"lookup_api:{settings.node_id}"
    state = LookupState()
    gate = Gate(state, node_id=node_id)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        connector = bus_connector(settings.nats, name=node_id)
        connector.start()
        state.attach(connector)
        responder = LookupResponder(connector, state, node_id=node_id)

        async def nats_connected() -> None:
            if not connector.connected:
                raise ConnectionError("not connected to NATS")

        async def configuration_loaded() -> None:
            if not state.loaded:
                raise ConnectionError("configuration not loaded yet")

        app.state.bus = connector
        app.state.responder = responder
        app.state.readiness = {"nats": nats_connected, "configuration": configuration_loaded}
        state.start()
        gate.start(connector, settings.lookup.usage_report_interval)
        responder.start()
        try:
            yield
        finally:
            await responder.stop()
            await gate.stop(connector)
            await state.stop()
            await connector.close()

    app = build_app(
        title="Tandem lookup API",
        version=VERSION,
        description=(
            "Number intelligence, rate and route lookups, number portability (LRN), CNAM and "
            "do-not-call lists at high request rates. Authenticate with an API key that an "
            "operator granted lookup access (`X-API-Key` or `Authorization: Bearer`); each key "
            "has a rate limit and a daily quota (429 with `Retry-After` beyond them)."
        ),
        routers=[router],
        lifespan=lifespan,
        trusted_proxies=settings.http.trusted_proxies,
        front=front(state, gate) if settings.lookup.fast_path else None,
    )
    app.state.lookup = state
    app.state.gate = gate
    return app


def served_app() -> FastAPI:
    """The app of a granian worker process (``python -m services.lookup_api``): settings from
    the environment, Tandem's logging configured in that process too."""
    from libs.telemetry import configure_logging

    settings = LookupApiSettings()
    configure_logging(service="lookup_api", level=settings.log_level, json=settings.json_logs)
    return create_app(settings)
