"""CDR ingest throughput through the billing worker into PostgreSQL, and hangup → queryable.

Run: ``.venv/bin/python bench/billing_bench.py`` (``--cdrs 50000 --customers 200
--latency-calls 300 --admin-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``).

A scratch PostgreSQL database (dropped afterwards) and a bundled nats-server on its own port.

1. Throughput, ``--runs`` times: ``--cdrs`` answered CDRs (spread over ``--customers``, buy
   and sell rates) are put in the CDR stream; then, on those same CDRs and in the same run,
   two ceilings are measured — the JetStream ceiling (a second durable consumer drained with
   the worker's :class:`~libs.billing.pull.Puller`, decoding and acknowledging each CDR, no
   database) and the store ceiling (the same rows, already rated, bulk-inserted with the
   worker's ``INSERT … SELECT unnest … ON CONFLICT DO NOTHING`` into a copy of ``cdrs``, no
   rating, no ledger, no NATS) — and then the billing worker bills them: ``--processes``
   replica processes (as deployed: each its own interpreter) sharing the durable consumer, or
   with ``--processes 0`` ``--workers`` workers in this process. The rate is the CDRs
   acknowledged from the moment every replica is consuming until the consumer has nothing
   pending or unacknowledged. Checked against the database afterwards (every CDR stored once,
   the balances moved by the exact sum). Printed: each run, the medians, and the worker's
   ratio to each ceiling (the box is shared and noisy: compare ratios). Target ≥ 5,000 CDRs/s.
2. Latency: with the worker idle, ``--latency-calls`` CDRs are published one at a time (as
   sip_core does at hangup) and the time until a query by call id finds the CDR is measured
   (polled every 2 ms, bounded 10 s each). Target: p99 < 2 s (the reference products: minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from _billing import DEFAULT_ADMIN_URL, scratch_database  # bench/ is the script folder
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import MetaData, func, insert, select, text

from libs.billing.bulk import BulkInsert
from libs.billing.pull import Puller
from libs.billing.rating import rate_call
from libs.billing.worker import DURABLE, BillingWorker
from libs.bus import CDR_STREAM, Bus, BusConnector, provision
from libs.bus.cdr import CDR_SUBJECT, CallEnded, ReleasedBy, ReleaseReason
from libs.db import Database
from libs.db.models import Cdr, Customer
from libs.platform.natsd import NatsServer
from libs.telemetry import configure_logging

TARGET_RATE = 5000.0
TARGET_P99 = 2.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def make_cdr(customer: uuid.UUID, carrier: uuid.UUID, ended: datetime, seconds: int) -> CallEnded:
    started = ended - timedelta(seconds=seconds + 3)
    answered = started + timedelta(seconds=3)
    return CallEnded(
        call_id=uuid.uuid4().hex,
        sip_call_id=f"{uuid.uuid4().hex}@bench",
        node_id="bench",
        zone="eu",
        source_address="127.0.0.2:5060",
        customer_id=customer,
        caller_received="4420700000",
        callee_received="4930123456",
        caller_sent="4420700000",
        callee_sent="4930123456",
        sell_prefix="49",
        destination="Germany",
        sell_rate=Decimal("0.0125"),
        connection_fee=Decimal("0.001"),
        initial_increment=30,
        subsequent_increment=6,
        currency="EUR",
        started_at=started,
        answered_at=answered,
        ended_at=ended,
        duration_ms=seconds * 1000 + 137,
        sip_code=200,
        release_reason=ReleaseReason.NORMAL,
        released_by=ReleasedBy.CALLER,
        attempts=[
            {
                "carrier_id": carrier,
                "gateway": "127.0.0.1:5080",
                "started_at": started,
                "answered_at": answered,
                "ended_at": ended,
                "sip_code": 200,
                "buy_prefix": "49",
                "buy_rate": Decimal("0.009"),
            }
        ],
    )


CEILING_TABLE = Cdr.__table__.to_metadata(MetaData(), name="cdrs_ceiling")  # type: ignore[attr-defined]
CEILING_INSERT = BulkInsert(
    CEILING_TABLE,
    [c.name for c in CEILING_TABLE.c if c.name != "rerated_at"],
    "ON CONFLICT (call_id) DO NOTHING RETURNING call_id",
)


async def drain_ceiling(bus: Bus, count: int, batch: int, time_limit: float) -> float:
    """CDRs/s of a durable consumer drained with the worker's puller: decode + ack, no DB."""
    durable = f"ceiling-{uuid.uuid4().hex[:8]}"
    last = (await bus.js.stream_info(CDR_STREAM)).state.last_seq
    await bus.js.add_consumer(
        CDR_STREAM,
        ConsumerConfig(
            durable_name=durable,
            filter_subject=CDR_SUBJECT,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=last - count + 1,  # this run's CDRs
            max_ack_pending=20_000,
        ),
    )
    puller = Puller(bus.nc, CDR_STREAM, durable, batch=batch)
    began = time.perf_counter()
    await puller.start()
    seen = 0
    try:
        while seen < count and time.perf_counter() - began < time_limit:
            for message in await puller.take(1.0):
                CallEnded.from_bytes(message.data)
                await message.ack()
                seen += 1
        elapsed = time.perf_counter() - began
    finally:
        await puller.stop()
        await bus.js.delete_consumer(CDR_STREAM, durable)
    return seen / elapsed


async def store_ceiling(database: Database, cdrs: list[CallEnded], batch: int) -> float:
    """CDRs/s of the same rows, already rated, bulk-inserted into a copy of ``cdrs``."""
    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "rated_at": now,
            **rate_call(c, sell_card=None, buy_card=None, buy_rate=None).row,
        }
        for c in cdrs
    ]
    async with database.session() as session:
        await session.execute(text("DROP TABLE IF EXISTS cdrs_ceiling"))
        await session.execute(text("CREATE TABLE cdrs_ceiling (LIKE cdrs INCLUDING ALL)"))
        await session.commit()
    began = time.perf_counter()
    for start in range(0, len(rows), batch):
        async with database.session() as session:
            await CEILING_INSERT.execute(session, rows[start : start + batch])
            await session.commit()
    return len(rows) / (time.perf_counter() - began)


async def outstanding(bus: Bus) -> int:
    """CDRs the billing consumer has not acknowledged yet (pending + in flight)."""
    info = await bus.js.consumer_info(CDR_STREAM, DURABLE)
    return (info.num_pending or 0) + (info.num_ack_pending or 0)


async def bill(
    args: argparse.Namespace,
    url: str,
    server_url: str,
    bus: Bus,
    database: Database,
    connector: BusConnector,
) -> tuple[float, float]:
    """CDRs/s billed by the replicas, from all consuming to nothing pending, and the replica
    processes' CPU seconds per CDR (0 in-process)."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    processes: list[asyncio.subprocess.Process] = []
    if args.processes:
        for _ in range(args.processes):
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--replica",
                    url,
                    server_url,
                    "--batch-size",
                    str(args.batch_size),
                    stdout=asyncio.subprocess.PIPE,
                )
            )
        for process in processes:  # each prints "ready" once its consumer is bound
            assert process.stdout is not None
            await asyncio.wait_for(process.stdout.readline(), 60)
    else:
        workers = [
            BillingWorker(database, connector, batch_size=args.batch_size, fetch_wait=0.05)
            for _ in range(args.workers)
        ]
        tasks = [asyncio.create_task(w.run(stop)) for w in workers]
        await asyncio.wait_for(asyncio.gather(*(w.ready.wait() for w in workers)), 30)
    began = time.perf_counter()
    # Counted from here: what was still unacknowledged (CDRs in flight count as not billed).
    todo = left = await outstanding(bus)
    cpu = 0.0
    deadline = began + args.time_limit
    while left and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
        left = await outstanding(bus)
    elapsed = time.perf_counter() - began
    stop.set()
    await asyncio.gather(*tasks)
    for process in processes:
        process.terminate()
    for process in processes:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        await process.wait()
        with contextlib.suppress(ValueError):
            cpu += float(line)
    return (todo - left) / elapsed, (cpu / (todo - left) if processes and todo > left else 0.0)


async def run(args: argparse.Namespace, url: str, workdir: Path) -> None:
    database = Database(url, pool_size=args.workers + 2)
    customers = [uuid.uuid4() for _ in range(args.customers)]
    async with database.session() as session:
        await session.execute(
            insert(Customer),
            [
                {"id": c, "name": f"Bench {i}", "currency": "EUR", "balance": Decimal(1_000_000)}
                for i, c in enumerate(customers)
            ],
        )
        await session.commit()
    with NatsServer(store_dir=workdir / "js", port=0) as server:
        connector = BusConnector(server.url, name="billing-bench", request_timeout=10)
        connector.start()
        bus = await connector.wait_connected(10)
        await provision(bus.js)
        carrier = uuid.uuid4()
        now = datetime.now(UTC)
        mode = (
            f"{args.processes} replica process(es)"
            if args.processes
            else f"{args.workers} in-process worker(s)"
        )

        # -- 1. throughput ------------------------------------------------------------------
        rates: list[tuple[float, float, float]] = []
        for run_number in range(1, args.runs + 1):
            cdrs = [
                make_cdr(customers[i % len(customers)], carrier, now, 20 + i % 300)
                for i in range(args.cdrs)
            ]
            for start in range(0, args.cdrs, 1000):
                await asyncio.gather(
                    *(
                        bus.publish_persistent(CDR_SUBJECT, c, msg_id=c.call_id)
                        for c in cdrs[start : start + 1000]
                    )
                )
            js_rate = await drain_ceiling(bus, args.cdrs, args.batch_size, args.time_limit)
            db_rate = await store_ceiling(database, cdrs, args.batch_size)
            rate, cpu = await bill(args, url, server.url, bus, database, connector)
            rates.append((rate, js_rate, db_rate))
            print(
                f"run {run_number}: billing {rate:,.0f} CDRs/s ({mode}, batch "
                f"{args.batch_size}); ceilings: JetStream drain {js_rate:,.0f}/s, "
                f"store only {db_rate:,.0f}/s; ratios {rate / js_rate:.2f} / "
                f"{rate / db_rate:.2f}" + (f"; replica CPU {cpu * 1e6:.0f} µs/CDR" if cpu else ""),
                flush=True,
            )
        async with database.session() as session:
            await session.execute(text("DROP TABLE IF EXISTS cdrs_ceiling"))
            await session.commit()
            stored = await session.scalar(select(func.count()).select_from(Cdr)) or 0
            charged = await session.scalar(select(func.sum(Cdr.charge))) or Decimal(0)
            balances = await session.scalar(select(func.sum(Customer.balance))) or Decimal(0)
        moved = Decimal(1_000_000) * len(customers) - balances
        rate = statistics.median(r[0] for r in rates)
        print(
            f"throughput, median of {len(rates)} runs: {rate:,.0f} CDRs/s; ceilings "
            f"JetStream {statistics.median(r[1] for r in rates):,.0f}/s, store only "
            f"{statistics.median(r[2] for r in rates):,.0f}/s; median ratios "
            f"{statistics.median(r[0] / r[1] for r in rates):.2f} / "
            f"{statistics.median(r[0] / r[2] for r in rates):.2f}"
        )
        print(
            f"  target >= {TARGET_RATE:,.0f}/s: ratio {rate / TARGET_RATE:.2f} "
            f"({'met' if rate >= TARGET_RATE else 'NOT met'})"
        )
        total = args.cdrs * args.runs
        print(
            f"  exactly once: stored {stored}/{total}; charges {charged} == balances "
            f"moved {moved}: {charged == moved}"
        )

        # the hangup → queryable phase bills with one in-process worker
        stop = asyncio.Event()
        worker = BillingWorker(database, connector, batch_size=args.batch_size, fetch_wait=0.05)
        tasks = [asyncio.create_task(worker.run(stop))]
        await asyncio.wait_for(worker.ready.wait(), 30)

        # -- 2. hangup → queryable ------------------------------------------------------------
        latencies: list[float] = []
        misses = 0
        for i in range(args.latency_calls):
            call = make_cdr(customers[i % len(customers)], carrier, datetime.now(UTC), 30)
            sent = time.perf_counter()
            await bus.publish_persistent(CDR_SUBJECT, call, msg_id=call.call_id)
            found = False
            while time.perf_counter() - sent < 10.0:
                async with database.session() as session:
                    if await session.scalar(select(Cdr.id).where(Cdr.call_id == call.call_id)):
                        found = True
                        break
                await asyncio.sleep(0.002)
            if found:
                latencies.append(time.perf_counter() - sent)
            else:
                misses += 1
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*tasks)
        await connector.close()
    await database.dispose()
    if latencies:
        p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
        print(
            f"hangup -> queryable over {len(latencies)} calls: p50 {p50 * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms, misses {misses}"
        )
        print(
            f"  target p99 < {TARGET_P99:.0f} s: ratio {p99 / TARGET_P99:.3f} "
            f"({'met' if p99 < TARGET_P99 else 'NOT met'}); vs 60 s (reference): "
            f"{p99 / 60:.4f}"
        )


async def replica(url: str, server_url: str, batch_size: int) -> None:
    """One billing replica process (``--replica``): bills until SIGTERM."""
    database = Database(url, pool_size=2)
    connector = BusConnector(server_url, name="billing-replica", request_timeout=10)
    connector.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    worker = BillingWorker(database, connector, batch_size=batch_size, fetch_wait=0.05)
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.ready.wait(), 30)
    print("ready", flush=True)
    cpu = time.process_time()
    await task
    print(f"{time.process_time() - cpu:.3f}", flush=True)  # CPU seconds spent billing
    await connector.close()
    await database.dispose()


def main() -> None:
    if len(sys.argv) >= 4 and sys.argv[1] == "--replica":
        configure_logging(service="billing-bench", level="WARNING", json=False)
        asyncio.run(replica(sys.argv[2], sys.argv[3], int(sys.argv[5])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--cdrs", type=int, default=30_000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2, help="Replica processes (0: none).")
    parser.add_argument("--workers", type=int, default=1, help="In-process workers (-p 0).")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--latency-calls", type=int, default=300)
    parser.add_argument("--time-limit", type=float, default=300.0, help="Bound of phase 1 (s).")
    args = parser.parse_args()
    if not 1 <= args.cdrs <= 2_000_000 or not 1 <= args.latency_calls <= 10_000:
        parser.error("--cdrs must be 1..2,000,000 and --latency-calls 1..10,000")
    if not 1 <= args.runs <= 20 or not 0 <= args.processes <= 8 or not 1 <= args.workers <= 8:
        parser.error("--runs must be 1..20, --processes 0..8, --workers 1..8")
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.admin_url, "tandem_bench") as url,
    ):
        asyncio.run(run(args, url, Path(tmp)))


if __name__ == "__main__":
    main()
