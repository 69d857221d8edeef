"""The billing worker on a real nats-server and both databases: exactly once, end to end.

Each test runs a nats-server of its own (``port=0``) so streams and consumers are not shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from libs.billing.balances import put_newer
from libs.billing.pull import Puller
from libs.billing.worker import DURABLE, BillingWorker
from libs.bus import CDR_STREAM, CONFIG_BUCKET, Bus, BusConnector, Msg, provision
from libs.bus.cdr import CDR_SUBJECT, CallEnded
from libs.db import Database
from libs.db.models import Cdr, LedgerEntry
from libs.liveconfig import ConfigView
from libs.liveconfig.models import BalanceConfig
from libs.platform.natsd import NatsServer
from tests.billing import factories
from tests.billing.factories import T0, cdr


class Crash(BaseException):
    """Stands for the process dying (SIGKILL): nothing in the worker catches it."""


class CrashBeforeAck(BillingWorker):
    async def acknowledge(self, messages: Sequence[Msg]) -> None:
        raise Crash


@dataclass
class Rig:
    server: NatsServer
    connector: BusConnector
    bus: Bus
    database: Database

    async def publish(self, call: CallEnded, msg_id: str | None = None) -> None:
        await self.bus.publish_persistent(CDR_SUBJECT, call, msg_id=msg_id or call.call_id)

    def worker(self, kind: type[BillingWorker] = BillingWorker, **options: object) -> BillingWorker:
        return kind(self.database, self.connector, fetch_wait=0.2, ack_wait=2.0, **options)  # type: ignore[arg-type]

    async def pending(self) -> tuple[int, int]:
        info = await self.bus.js.consumer_info(CDR_STREAM, DURABLE)
        return info.num_pending, info.num_ack_pending


async def eventually(predicate: Callable[[], object], within: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(worker: BillingWorker) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.ready.wait(), 10)
        yield task
    finally:
        stop.set()
        with contextlib.suppress(Crash):
            await asyncio.wait_for(task, 10)


@pytest.fixture
async def rig(tmp_path: Path, database: Database) -> AsyncIterator[Rig]:
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        connector = BusConnector(server.url, name="billing-test")
        connector.start()
        try:
            bus = await connector.wait_connected(10)
            await provision(bus.js)
            yield Rig(server, connector, bus, database)
        finally:
            await connector.close()


async def _counts(database: Database) -> tuple[int, int]:
    async with database.session() as session:
        cdrs = await session.scalar(select(func.count()).select_from(Cdr))
        entries = await session.scalar(select(func.count()).select_from(LedgerEntry))
    return cdrs or 0, entries or 0


async def test_cdrs_are_charged_once_and_the_balance_reaches_a_watcher(rig: Rig) -> None:
    alice = await factories.customer(rig.database, balance=Decimal("10"))
    view = ConfigView(rig.connector, {"balance": BalanceConfig})
    view.start()
    try:
        started = datetime.now(UTC) - timedelta(minutes=2)
        calls = [cdr(customer_id=alice, seconds=60, rate="1", started_at=started) for _ in range(3)]
        async with running(rig.worker()):
            for call in calls:
                await rig.publish(call)
            # The same CDR again under another message id (outside JetStream's de-duplication).
            await rig.publish(calls[0], msg_id=f"{calls[0].call_id}-again")

            def balance() -> str | None:
                published = view.get("balance", alice)
                return published.balance if published else None

            await eventually(lambda: balance() == "7")
            await eventually(lambda: rig.pending(), within=10)  # consumer info answers
            await eventually(lambda: _drained(rig))
        published = view.get("balance", alice)
        assert published.spent_today == "3"
        assert published.day == datetime.now(UTC).date()
        assert await factories.balance(rig.database, alice) == Decimal("7")
        assert await _counts(rig.database) == (3, 3)
    finally:
        await view.stop()


async def _drained(rig: Rig) -> bool:
    return await rig.pending() == (0, 0)


async def test_a_worker_killed_between_commit_and_ack_charges_nothing_twice(rig: Rig) -> None:
    alice = await factories.customer(rig.database, balance=Decimal("10"))
    call = cdr(customer_id=alice, seconds=30, rate="2", increments=(1, 1))
    crashing = rig.worker(CrashBeforeAck)
    stop = asyncio.Event()
    task = asyncio.create_task(crashing.run(stop))
    await asyncio.wait_for(crashing.ready.wait(), 10)
    await rig.publish(call)
    with pytest.raises(Crash):
        await asyncio.wait_for(task, 15)
    # Committed, never acknowledged.
    assert await factories.balance(rig.database, alice) == Decimal("9")
    assert (await rig.pending())[1] == 1

    async with running(rig.worker()):
        await eventually(lambda: _drained(rig))  # redelivered after ack_wait, then acked
    assert await factories.balance(rig.database, alice) == Decimal("9")
    assert await _counts(rig.database) == (1, 1)


async def test_a_worker_killed_before_commit_loses_nothing(rig: Rig) -> None:
    alice = await factories.customer(rig.database, balance=Decimal("10"))
    call = cdr(customer_id=alice, seconds=60, rate="1")

    class CrashBeforeCommit(BillingWorker):
        async def _bill(self, batch: list[tuple[Msg, CallEnded]]) -> None:
            raise Crash

    crashing = rig.worker(CrashBeforeCommit)
    task = asyncio.create_task(crashing.run(asyncio.Event()))
    await asyncio.wait_for(crashing.ready.wait(), 10)
    await rig.publish(call)
    with pytest.raises(Crash):
        await asyncio.wait_for(task, 15)
    assert await _counts(rig.database) == (0, 0)

    async with running(rig.worker()):
        await eventually(lambda: _drained(rig))
    assert await factories.balance(rig.database, alice) == Decimal("9")


async def test_poison_messages_are_terminated_and_do_not_block(rig: Rig) -> None:
    alice = await factories.customer(rig.database, balance=Decimal("10"))
    async with running(rig.worker()):
        await rig.bus.js.publish(CDR_SUBJECT, b"this is not a CDR")
        await rig.bus.js.publish(CDR_SUBJECT, b'{"call_id": "x"}')
        await rig.publish(cdr(customer_id=alice, seconds=60, rate="1"))
        await eventually(lambda: _drained(rig))
    assert await factories.balance(rig.database, alice) == Decimal("9")
    assert await _counts(rig.database) == (1, 1)


async def test_replicas_share_the_stream_and_charge_each_cdr_once(rig: Rig) -> None:
    customers = [await factories.customer(rig.database, balance=Decimal("100")) for _ in range(3)]
    calls = [cdr(customer_id=customers[i % 3], seconds=60, rate="1") for i in range(90)]
    async with running(rig.worker(batch_size=7)), running(rig.worker(batch_size=11)):
        for call in calls:
            await rig.publish(call)
        await eventually(lambda: _drained(rig), within=30)
    for customer in customers:
        assert await factories.balance(rig.database, customer) == Decimal("70")
    assert await _counts(rig.database) == (90, 90)


async def test_a_balance_write_after_another_writer_falls_back_to_reading(rig: Rig) -> None:
    kv = await rig.bus.key_value(CONFIG_BUCKET)
    customer = uuid.uuid4()

    def balance(version: int) -> BalanceConfig:
        return BalanceConfig(
            id=customer, version=version, balance=str(version), currency="EUR", day=T0.date()
        )

    known: dict[str, tuple[int, int]] = {}
    assert await put_newer(kv, balance(1), known)
    assert await put_newer(kv, balance(2), known)  # straight update on the known revision
    assert await put_newer(kv, balance(5))  # another writer (switch_api) got there first
    assert not await put_newer(kv, balance(3), known)  # stale revision: read, 5 is newer
    assert await put_newer(kv, balance(6), known)
    entry = await kv.get(balance(6).key)
    assert entry.value is not None
    assert BalanceConfig.from_bytes(entry.value).version == 6


async def test_the_puller_hands_out_bursts_in_batches_and_a_lone_cdr_at_once(rig: Rig) -> None:
    worker = rig.worker()
    await rig.bus.js.add_consumer(CDR_STREAM, worker.consumer_config())
    calls = [cdr() for _ in range(25)]
    for call in calls:
        await rig.publish(call)
    puller = Puller(rig.bus.nc, CDR_STREAM, DURABLE, batch=10)
    await puller.start()
    try:
        seen: list[str] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while len(seen) < len(calls) and loop.time() < deadline:
            batch = await puller.take(1.0)
            assert len(batch) <= 10
            for message in batch:
                seen.append(CallEnded.from_bytes(message.data).call_id)
                await message.ack()
        assert sorted(seen) == sorted(c.call_id for c in calls)
        lone = cdr()
        sent = loop.time()
        await rig.publish(lone)
        batch = []
        while not batch and loop.time() - sent < 10:
            batch = await puller.take(1.0)
        assert [CallEnded.from_bytes(m.data).call_id for m in batch] == [lone.call_id]
        await batch[0].ack()
    finally:
        await puller.stop()
