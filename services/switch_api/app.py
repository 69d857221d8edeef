"""switch_api: the operator's administration API (source of truth: the SQL database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.db import Database
from libs.web import build_app
from services.switch_api import customers, zones
from services.switch_api.config import SwitchApiSettings
from services.switch_api.customers.endpoints import router as customers_router
from services.switch_api.zones.endpoints import router as zones_router

VERSION = "0.1.0"


def create_app(settings: SwitchApiSettings | None = None) -> FastAPI:
    settings = settings or SwitchApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database.url.get_secret_value())
        app.state.database = database
        app.state.readiness = {"database": database.ping}
        try:
            yield
        finally:
            await database.dispose()

    return build_app(
        title="Tandem switch API",
        version=VERSION,
        description="The operator's administration API: every object of the switch.",
        routers=[customers_router, zones_router],
        lifespan=lifespan,
        openapi_tags=[
            {"name": "customers", "description": customers.__doc__},
            {"name": "zones", "description": zones.__doc__},
            {"name": "operations", "description": "Health and metrics."},
        ],
    )
