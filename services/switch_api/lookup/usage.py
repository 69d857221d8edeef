"""Usage counters: lookup_api nodes report, one switch_api replica adds them to the database.

Reports are core NATS messages (``lookup.usage.reported``), taken by one member of the
``switch_api`` queue group. A report sent while no switch_api runs is lost: the counters are
for the operator's information (quotas are enforced by lookup_api from the reports
themselves), and a lost report undercounts by at most one report interval of one node.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import structlog
from fastapi import FastAPI

from libs.bus import BusConnector, Msg
from libs.bus.lookup import USAGE_SUBJECT, LookupUsageReported
from libs.bus.subscriber import QueueSubscriber
from libs.db import Database, UnitOfWork
from services.switch_api.lookup.repository import UsageRepository
from services.switch_api.lookup.service import LOOKUP_KEY, DatasetPublisher, ImportTracker

__all__ = ["USAGE_QUEUE", "UsageRecorder", "lookup_lifespan"]

_log = structlog.get_logger(__name__)

USAGE_QUEUE = "switch_api"

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class UsageRecorder:
    def __init__(self, database: Database, connector: BusConnector) -> None:
        self._database = database
        self._connector = connector
        self._subscriber = QueueSubscriber(
            connector, USAGE_SUBJECT, self._on_report, queue=USAGE_QUEUE, name="lookup-usage"
        )
        #: Set while subscribed (tests wait on it).
        self.ready = self._subscriber.ready
        #: Reports stored so far (tests wait on it).
        self.recorded = 0

    def start(self) -> None:
        self._subscriber.start()

    async def stop(self) -> None:
        await self._subscriber.stop()

    async def _on_report(self, msg: Msg) -> None:
        await self.record(LookupUsageReported.from_bytes(msg.data))

    async def record(self, report: LookupUsageReported) -> None:
        async with self._database.session() as session:
            usage = UsageRepository(session)
            for key in report.keys:
                try:
                    key_id = uuid.UUID(key.api_key_id)
                except ValueError:
                    continue
                if key.requests or key.refused:
                    await usage.add(key_id, report.day, key.requests, key.refused)
            await session.commit()
        self.recorded += 1


def lookup_lifespan(inner: Lifespan) -> Lifespan:
    """Wrap switch_api's lifespan with the usage recorder and the dataset publisher."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            publisher = DatasetPublisher(app.state.live.publisher)
            app.state.lookup_datasets = publisher
            app.state.lookup_imports = ImportTracker()
            recorder = None
            connector = getattr(app.state, "bus", None)
            if connector is not None:
                recorder = UsageRecorder(app.state.database, connector)
                recorder.start()
            app.state.lookup_usage = recorder
            live = app.state.live

            def withdraw(uow: UnitOfWork, key_id: uuid.UUID) -> None:
                live.delete(uow, [(LOOKUP_KEY, key_id)])

            # Restored on the way out: an app whose lifespan runs again (tests) keeps one hook.
            hooks = getattr(app.state, "api_key_revoked", [])
            app.state.api_key_revoked = [*hooks, withdraw]
            try:
                yield
            finally:
                app.state.api_key_revoked = hooks
                if recorder is not None:
                    await recorder.stop()
                await publisher.stop()

    return lifespan
