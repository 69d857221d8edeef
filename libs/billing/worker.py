"""The billing worker: CDRs from the ``CDR`` stream, rated and charged exactly once.

Replicas share one durable pull consumer (:data:`DURABLE`): JetStream hands each message to one
of them at a time (queue semantics), and each fetches a batch, then in **one database
transaction** rates every call, stores the CDRs (``ON CONFLICT (call_id) DO NOTHING``), writes
the ledger entries and moves the balances (:func:`libs.billing.ingest.ingest`). Only after the
commit are the messages acknowledged, and the new balances handed to the
:class:`~libs.billing.balances.BalancePublisher`.

Failure cases:

* killed before the commit: the transaction rolls back, JetStream redelivers after
  ``ack_wait``, the batch is billed then;
* killed after the commit, before the acks: the redelivered CDRs find their call ids taken and
  change nothing (then they are acknowledged);
* a message that is not a CDR (undecodable): terminated (``term()``) and logged, never retried;
* a CDR the database refuses (a constraint, an out-of-range value): the batch is retried one
  message per transaction so the others go through; the refused one is retried with a delay
  and terminated (logged as an error with its call id) after :data:`MAX_DELIVERIES`;
* the database unreachable: nothing is acknowledged, the batch is negatively acknowledged
  with a delay and the worker backs off.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import structlog
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import Counter, Histogram
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from libs.billing.balances import BalancePublisher
from libs.billing.cards import CardBook
from libs.billing.ingest import ingest
from libs.billing.ledger import balance_configs
from libs.billing.pull import Puller
from libs.bus import CDR_STREAM, BusConnector, MessageDecodeError, Msg
from libs.bus.cdr import CDR_SUBJECT, CallEnded
from libs.db import Database, utcnow

__all__ = ["DURABLE", "MAX_DELIVERIES", "BillingWorker"]

_log = structlog.get_logger(__name__)

#: The durable consumer every billing replica shares.
DURABLE = "billing"
#: The balance publisher's coalescing window: a customer's balance is written to the live
#: configuration at most this often per replica (nodes follow well within a second).
PUBLISH_INTERVAL = 0.2
#: Deliveries after which a CDR the database keeps refusing is terminated.
MAX_DELIVERIES = 5

CDRS = Counter("tandem_billing_cdrs_total", "CDRs handled by billing", ["outcome"])
BATCH_SECONDS = Histogram(
    "tandem_billing_batch_seconds",
    "Time to rate, store and commit one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class BillingWorker:
    """One replica of the billing worker (run several: they share the durable consumer)."""

    def __init__(
        self,
        database: Database,
        connector: BusConnector,
        *,
        publisher: BalancePublisher | None = None,
        durable: str = DURABLE,
        batch_size: int = 500,
        fetch_wait: float = 1.0,
        ack_wait: float = 30.0,
        retry_delay: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not 1 <= batch_size <= 5000:
            raise ValueError("batch_size must be between 1 and 5000")
        self.database = database
        self.connector = connector
        self.publisher = (
            publisher
            if publisher is not None
            else BalancePublisher(connector, min_interval=PUBLISH_INTERVAL)
        )
        self.durable = durable
        self.batch_size = batch_size
        self.fetch_wait = fetch_wait
        self.ack_wait = ack_wait
        self.retry_delay = retry_delay
        self.clock = clock
        self.book = CardBook()
        #: Set once the consumer is bound (tests and readiness).
        self.ready = asyncio.Event()

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            filter_subject=CDR_SUBJECT,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=-1,
            max_ack_pending=max(20_000, self.batch_size * 4),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Bill CDRs until ``stop`` is set (reconnecting to NATS as needed)."""
        try:
            while not stop.is_set():
                bus = await self.connector.wait_connected()
                try:
                    await bus.js.add_consumer(CDR_STREAM, self.consumer_config())
                    puller = Puller(bus.nc, CDR_STREAM, self.durable, batch=self.batch_size)
                    await puller.start()
                except Exception as exc:
                    _log.warning("billing consumer not bound yet; retrying", error=str(exc))
                    await _sleep_unless(stop, self.retry_delay)
                    continue
                self.ready.set()
                _log.info("billing worker consuming", stream=CDR_STREAM, durable=self.durable)
                try:
                    await self._consume(puller, stop)
                finally:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(puller.stop(), 1.0)
        finally:
            await self.publisher.stop()

    async def _consume(self, puller: Puller, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                messages = await puller.take(self.fetch_wait)
            except Exception as exc:
                if not self.connector.connected:
                    _log.warning("NATS connection lost; billing waits", error=str(exc))
                    await self.connector.wait_connected()
                    continue
                _log.warning("pulling CDRs failed", error=str(exc))
                await _sleep_unless(stop, self.retry_delay)
                return  # re-bind the consumer
            if messages:
                await self.process(messages)

    async def process(self, messages: Sequence[Msg]) -> None:
        """Bill one fetched batch: decode, one transaction, then acknowledge."""
        batch: list[tuple[Msg, CallEnded]] = []
        for message in messages:
            try:
                batch.append((message, CallEnded.from_bytes(message.data)))
            except MessageDecodeError as exc:
                CDRS.labels("terminated").inc()
                _log.error(
                    "undecodable CDR terminated",
                    subject=message.subject,
                    stream_sequence=_sequence(message),
                    error=str(exc),
                )
                with contextlib.suppress(Exception):
                    await message.term()
        if not batch:
            return
        try:
            await self._bill(batch)
        except Exception as exc:
            if _is_outage(exc):
                _log.warning("database unreachable; CDRs will be redelivered", error=str(exc))
                await self._nak(m for m, _ in batch)
                await asyncio.sleep(self.retry_delay)
                return
            if len(batch) > 1:
                _log.warning(
                    "a batch of CDRs failed; billing them one by one",
                    size=len(batch),
                    error=str(exc),
                )
                for item in batch:
                    await self._bill_alone(item)
                return
            await self._refused(batch[0], exc)

    async def _bill_alone(self, item: tuple[Msg, CallEnded]) -> None:
        try:
            await self._bill([item])
        except Exception as exc:
            if _is_outage(exc):
                await self._nak([item[0]])
                return
            await self._refused(item, exc)

    async def _refused(self, item: tuple[Msg, CallEnded], exc: Exception) -> None:
        message, cdr = item
        deliveries = _deliveries(message)
        if deliveries >= MAX_DELIVERIES:
            CDRS.labels("terminated").inc()
            _log.error(
                "CDR refused by the database; terminated",
                call_id=cdr.call_id,
                deliveries=deliveries,
                error=str(exc),
            )
            with contextlib.suppress(Exception):
                await message.term()
            return
        _log.warning(
            "CDR refused by the database; retrying later",
            call_id=cdr.call_id,
            deliveries=deliveries,
            error=str(exc),
        )
        await self._nak([message])

    async def _bill(self, batch: list[tuple[Msg, CallEnded]]) -> None:
        started = time.perf_counter()
        now = self.clock()
        async with self.database.session() as session:
            result = await ingest(session, [cdr for _, cdr in batch], self.book, now=now)
            balances = await balance_configs(
                session, result.balances.values(), today=now.astimezone(UTC).date()
            )
            await session.commit()
        BATCH_SECONDS.observe(time.perf_counter() - started)
        CDRS.labels("stored").inc(len(result.stored))
        if result.duplicates:
            CDRS.labels("duplicate").inc(result.duplicates)
        await self.acknowledge([message for message, _ in batch])
        self.publisher.offer(balances)

    async def acknowledge(self, messages: Sequence[Msg]) -> None:
        """Acknowledge committed messages (an unacknowledged one is redelivered: a no-op)."""
        for message in messages:
            try:
                await message.ack()
            except Exception as exc:
                _log.warning("ack failed; the CDR will be redelivered (no-op)", error=str(exc))

    async def _nak(self, messages: object) -> None:
        for message in messages:  # type: ignore[attr-defined]
            with contextlib.suppress(Exception):
                await message.nak(delay=self.retry_delay)


def _deliveries(message: Msg) -> int:
    try:
        return int(message.metadata.num_delivered or 1)
    except Exception:
        return 1


def _sequence(message: Msg) -> int | None:
    try:
        return message.metadata.sequence.stream
    except Exception:
        return None


async def _sleep_unless(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)
