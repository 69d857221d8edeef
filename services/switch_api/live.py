"""switch_api's side of live configuration: publish after commit, compile rate cards, apply
what time changes (firewall expiries, revisions taking effect), reconcile at start-up.

Every write registers its side effects on the unit of work (``LiveConfig.put`` / ``delete`` /
``rate_card_changed``), so they run after the commit and never for a rollback. Key-value
publishes run before the response is sent (a client that got its 2xx can count on nodes having
been told); compiling a rate card may take seconds for a large card, so it runs in a background
task that coalesces requests for the same card. If NATS is unreachable the write still succeeds
and the reconciler repairs the bucket when NATS comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime

import structlog
from fastapi import FastAPI
from sqlalchemy import and_, select

from libs.billing.balances import BalancePublisher
from libs.bus import BusConnector, BusError
from libs.bus.tasks import cancel_and_wait
from libs.db import Database, UnitOfWork, utcnow
from libs.db.models import FirewallRule, RateCardRevision
from libs.liveconfig import ConfigObject, ConfigPublisher
from libs.liveconfig.models import BalanceConfig
from libs.liveconfig.snapshot import RATECARD, compile_rate_card, reconcile_database

__all__ = ["ConfigScheduler", "LiveConfig", "RateCardCompiler", "live_config_lifespan"]

_log = structlog.get_logger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

#: The scheduler looks at the database at least this often (seconds), even without a wake-up.
SCHEDULER_MAX_SLEEP = 30.0
#: How often the reconciler checks whether NATS came back after an outage.
RECONNECT_POLL = 2.0


class RateCardCompiler:
    """Compiles rate cards to blobs in the background, once per burst of changes to a card."""

    def __init__(self, database: Database, publisher: ConfigPublisher) -> None:
        self._database = database
        self._publisher = publisher
        self._pending: dict[uuid.UUID, None] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def request(self, card_id: uuid.UUID) -> None:
        """Compile and publish ``card_id`` soon (a deleted card's pointer is deleted)."""
        self._pending[card_id] = None
        self._idle.clear()
        self._wake.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ratecards")

    async def idle(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Wait until every requested card has been published (tests, benchmarks)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                card_id = next(iter(self._pending))
                del self._pending[card_id]
                try:
                    await self.publish(card_id)
                except Exception as exc:
                    _log.warning(
                        "rate card not published (reconcile repairs it)",
                        card=str(card_id),
                        error=str(exc),
                    )
            if not self._pending:
                self._idle.set()

    async def publish(self, card_id: uuid.UUID) -> None:
        try:
            self._publisher.require_bus()
        except BusError:
            _log.warning("rate card not published: NATS unreachable", card=str(card_id))
            return
        async with self._database.session() as session:
            compiled = await compile_rate_card(session, card_id)
        if compiled is None:
            await self._publisher.publish(delete=[(RATECARD, card_id)])
            return
        await self._publisher.put_blob(RATECARD, card_id, compiled.data, version=compiled.version)
        _log.info("rate card published", card=str(card_id), rates=compiled.rates)


class ConfigScheduler:
    """Applies the configuration changes that time makes, when it makes them.

    A firewall rule's key is deleted at its ``expires_at``; a rate card is recompiled when one
    of its revisions takes effect (the blob already holds the scheduled revision, so nodes
    switch on time by themselves; the recompile drops the superseded one). The loop sleeps
    until the next such instant (re-read whenever a write calls :meth:`wake`).
    """

    def __init__(
        self,
        database: Database,
        publisher: ConfigPublisher,
        compiler: RateCardCompiler,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._database = database
        self._publisher = publisher
        self._compiler = compiler
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="scheduler")

    def wake(self) -> None:
        """Something scheduled changed: look at the database again."""
        self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        last = self._clock()
        while True:
            try:
                upcoming = await self._next_event(after=last)
            except Exception as exc:
                _log.warning("scheduler cannot read the database", error=str(exc))
                upcoming = None
            delay = SCHEDULER_MAX_SLEEP
            if upcoming is not None:
                delay = min(delay, max(0.0, (upcoming - self._clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            now = self._clock()
            try:
                await self._apply(last, now)
                last = now
            except Exception as exc:
                _log.warning("scheduled configuration change failed; retrying", error=str(exc))
                await asyncio.sleep(1.0)

    async def _next_event(self, *, after: datetime) -> datetime | None:
        async with self._database.session() as session:
            rule = await session.scalar(
                select(FirewallRule.expires_at)
                .where(FirewallRule.expires_at > after)
                .order_by(FirewallRule.expires_at)
                .limit(1)
            )
            revision = await session.scalar(
                select(RateCardRevision.effective_from)
                .where(RateCardRevision.effective_from > after)
                .order_by(RateCardRevision.effective_from)
                .limit(1)
            )
        moments = [m for m in (rule, revision) if m is not None]
        return min(moments) if moments else None

    async def _apply(self, since: datetime, now: datetime) -> None:
        async with self._database.session() as session:
            expired = (
                await session.scalars(
                    select(FirewallRule.id).where(
                        and_(FirewallRule.expires_at > since, FirewallRule.expires_at <= now)
                    )
                )
            ).all()
            cards = (
                await session.scalars(
                    select(RateCardRevision.rate_card_id).where(
                        and_(
                            RateCardRevision.effective_from > since,
                            RateCardRevision.effective_from <= now,
                        )
                    )
                )
            ).all()
        if expired:
            await self._publisher.publish(delete=[("firewall", rule_id) for rule_id in expired])
            _log.info("firewall rules expired", rules=len(expired))
        for card_id in set(cards):
            self._compiler.request(card_id)


class LiveConfig:
    """What the domain services use to publish their writes (``app.state.live``)."""

    def __init__(self, database: Database, connector: BusConnector | None) -> None:
        self.database = database
        self.connector = connector
        self.publisher = ConfigPublisher(connector)
        self.compiler = RateCardCompiler(database, self.publisher)
        self.scheduler = ConfigScheduler(database, self.publisher, self.compiler)
        #: Balances moved by payments, adjustments and re-rates (newest version wins).
        self.balances = BalancePublisher(connector)
        self._reconciler: asyncio.Task[None] | None = None
        #: Set after each successful reconcile (tests and benchmarks wait on it).
        self.reconciled = asyncio.Event()

    # -- what services call ------------------------------------------------------------------

    def put(self, uow: UnitOfWork, *objects: ConfigObject) -> None:
        """Publish ``objects`` after ``uow`` commits."""
        self.publisher.stage(uow, put=objects)

    def delete(self, uow: UnitOfWork, keys: Iterable[tuple[str, uuid.UUID]]) -> None:
        """Delete ``(kind, id)`` keys after ``uow`` commits."""
        self.publisher.stage(uow, delete=list(keys))

    def rate_card_changed(self, uow: UnitOfWork, card_id: uuid.UUID) -> None:
        """Recompile and republish the card after ``uow`` commits (in the background)."""

        async def request() -> None:
            self.compiler.request(card_id)
            self.scheduler.wake()

        uow.after_commit(request)

    def balances_changed(self, uow: UnitOfWork, balances: Iterable[BalanceConfig]) -> None:
        """Publish new ``balance`` objects after ``uow`` commits (waiting, bounded, for NATS)."""
        objects = list(balances)

        async def publish() -> None:
            await self.balances.publish(objects)

        uow.after_commit(publish)

    def schedule_changed(self, uow: UnitOfWork) -> None:
        """An expiry or activation time changed: the scheduler looks again after the commit."""

        async def wake() -> None:
            self.scheduler.wake()

        uow.after_commit(wake)

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        self.scheduler.start()
        if self.connector is not None:
            self._reconciler = asyncio.get_running_loop().create_task(
                self._reconcile_on_connect(), name="reconciler"
            )

    async def stop(self) -> None:
        task, self._reconciler = self._reconciler, None
        if task is not None:
            await cancel_and_wait(task)
        await self.scheduler.stop()
        await self.compiler.stop()
        await self.balances.stop()

    async def reconcile(self) -> None:
        report = await reconcile_database(self.database, self.publisher)
        _log.info(
            "configuration reconciled",
            written=len(report.written),
            deleted=len(report.deleted),
            unchanged=report.unchanged,
        )
        self.reconciled.set()

    async def _reconcile_on_connect(self) -> None:
        """Reconcile once NATS is reachable, and again after every outage (writes made while
        NATS was away were not published)."""
        assert self.connector is not None
        while True:
            await self.connector.wait_connected()
            try:
                await self.reconcile()
            except Exception as exc:
                _log.warning("reconcile failed; retrying", error=str(exc))
                await asyncio.sleep(RECONNECT_POLL * 2)
                continue
            while self.connector.connected:  # noqa: ASYNC110 - nats-py has no "lost" event here
                await asyncio.sleep(RECONNECT_POLL)


def live_config_lifespan(inner: Lifespan) -> Lifespan:
    """Wrap the API's lifespan (database, bus) with live configuration publishing."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            live = LiveConfig(app.state.database, getattr(app.state, "bus", None))
            app.state.live = live
            live.start()
            try:
                yield
            finally:
                await live.stop()

    return lifespan
