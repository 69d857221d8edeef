"""The billing worker process: CDRs from the ``CDR`` stream, rated, stored and charged.

Run it as ``python -m services.switch_api.billing`` (``tandem up`` starts one; in Kubernetes
it is the ``billing`` Deployment). Any number of replicas share the durable consumer
(:data:`libs.billing.worker.DURABLE`). It serves ``/healthz``, ``/readyz`` and ``/metrics`` on
its HTTP port (8007 by default) and announces itself in the presence bucket like the nodes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from libs.billing.worker import BillingWorker
from libs.bus.tasks import cancel_and_wait
from libs.db import Database
from libs.node import Node
from libs.telemetry import configure_logging
from services.switch_api.billing.config import BillingWorkerSettings

__all__ = ["main", "node"]


def node(settings: BillingWorkerSettings) -> Node:
    database = Database(settings.database.url.get_secret_value(), pool_size=4)
    worker: BillingWorker | None = None

    @asynccontextmanager
    async def workload(node: Node) -> AsyncIterator[None]:
        nonlocal worker
        worker = BillingWorker(
            database,
            node.connector,
            batch_size=settings.billing.batch_size,
            fetch_wait=settings.billing.fetch_wait,
            ack_wait=settings.billing.ack_wait,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop), name="billing")

        async def database_ready() -> None:
            await database.ping()

        node.readiness["database"] = database_ready
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, 15.0)
            except TimeoutError:
                await cancel_and_wait(task)
            await database.dispose()

    return Node(
        role="billing",
        settings=settings,
        http=settings.http,
        workload=workload,
        load=lambda: (0.0, {}),
        addresses=dict,
    )


def main() -> None:
    settings = BillingWorkerSettings()
    configure_logging(service="billing", level=settings.log_level, json=settings.json_logs)
    node(settings).serve_forever()
