"""customer_api: the operator's customers' own view (balance, CDRs, SIP users, rates)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.db import Database
from libs.web import build_app
from services.customer_api.config import CustomerApiSettings

VERSION = "0.1.0"


def create_app(settings: CustomerApiSettings | None = None) -> FastAPI:
    settings = settings or CustomerApiSettings()

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
        title="Tandem customer API",
        version=VERSION,
        description="For the operator's customers: their balance, calls, SIP users and rates.",
        routers=[],
        lifespan=lifespan,
    )
