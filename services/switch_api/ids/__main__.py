"""``python -m services.switch_api.ids``: run the intrusion-detection worker.

It serves ``/healthz``, ``/readyz`` (database reachable, consumer subscribed) and
``/metrics`` on its own port, and stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from libs.db import Database
from libs.node import bus_connector
from libs.telemetry import configure_logging
from libs.web import build_app, http_server, run_until_signalled
from services.switch_api.ids.config import IdsSettings
from services.switch_api.ids.worker import IdsWorker

VERSION = "0.1.0"


async def run(settings: IdsSettings, stop: asyncio.Event) -> None:
    database = Database(
        settings.database.url.get_secret_value(), pool_size=settings.database.pool_size
    )
    connector = bus_connector(settings.nats, name=f"ids:{settings.node_id}")
    connector.start()
    worker = IdsWorker(database, connector, enumeration_usernames=settings.enumeration_usernames)

    async def consuming() -> None:
        if not worker.ready.is_set() or not connector.connected:
            raise ConnectionError("not consuming security events yet")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.readiness = {"database": database.ping, "consumer": consuming}
        yield

    server = http_server(
        build_app(
            title="Tandem IDS worker",
            version=VERSION,
            description="Health and metrics of the intrusion-detection worker.",
            routers=[],
            lifespan=lifespan,
        ),
        settings.http,
    )
    server_task = asyncio.create_task(server.serve(), name="http")
    worker.start()
    try:
        await stop.wait()
    finally:
        await worker.stop()
        server.should_exit = True
        await server_task
        await connector.close()
        await database.dispose()


def main() -> None:
    settings = IdsSettings()
    configure_logging(service="ids", level=settings.log_level, json=settings.json_logs)
    asyncio.run(run_until_signalled(lambda stop: run(settings, stop)))


if __name__ == "__main__":
    main()
