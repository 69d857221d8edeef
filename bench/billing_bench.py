"""CDR ingest throughput through the billing worker into PostgreSQL, and hangup → queryable.

Run: ``.venv/bin/python bench/billing_bench.py`` (``--cdrs 50000 --customers 200
--latency-calls 300 --admin-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``).

A scratch PostgreSQL database (dropped afterwards) and a bundled nats-server on its own port.

1. Throughput: ``--cdrs`` answered, rated CDRs (spread over ``--customers``, buy and sell
   rates) are put in the CDR stream first; then a :class:`~libs.billing.worker.BillingWorker`
   (``--workers`` replicas sharing the durable consumer, in this process) bills them. Timed from
   the worker's start to the consumer having nothing pending or unacknowledged; checked against
   the database afterwards (every CDR stored once, the balances moved by the exact sum).
   Target: ≥ 5,000 CDRs/s.
2. Latency: with the worker idle, ``--latency-calls`` CDRs are published one at a time (as
   sip_core does at hangup) and the time until a query by call id finds the CDR is measured
   (polled every 2 ms, bounded 10 s each). Target: p99 < 2 s (the reference products: minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from _billing import DEFAULT_ADMIN_URL, scratch_database  # bench/ is the script folder
from sqlalchemy import func, insert, select

from libs.billing.worker import DURABLE, BillingWorker
from libs.bus import CDR_STREAM, BusConnector, provision
from libs.bus.cdr import CDR_SUBJECT, CallEnded, ReleasedBy, ReleaseReason
from libs.db import Database
from libs.db.models import Cdr, Customer
from libs.platform.natsd import NatsServer

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

        # -- 1. throughput ------------------------------------------------------------------
        print(f"publishing {args.cdrs} CDRs to the stream …", flush=True)
        published = time.perf_counter()
        for start in range(0, args.cdrs, 1000):
            batch = [
                make_cdr(customers[i % len(customers)], carrier, now, 20 + i % 300)
                for i in range(start, min(args.cdrs, start + 1000))
            ]
            await asyncio.gather(
                *(bus.publish_persistent(CDR_SUBJECT, c, msg_id=c.call_id) for c in batch)
            )
        print(f"  published in {time.perf_counter() - published:.1f} s", flush=True)

        stop = asyncio.Event()
        workers = [
            BillingWorker(database, connector, batch_size=args.batch_size, fetch_wait=0.05)
            for _ in range(args.workers)
        ]
        began = time.perf_counter()
        tasks = [asyncio.create_task(w.run(stop)) for w in workers]
        await asyncio.wait_for(asyncio.gather(*(w.ready.wait() for w in workers)), 30)
        deadline = began + args.time_limit
        while time.perf_counter() < deadline:
            info = await bus.js.consumer_info(CDR_STREAM, DURABLE)
            if info.num_pending == 0 and info.num_ack_pending == 0:
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - began
        async with database.session() as session:
            stored = await session.scalar(select(func.count()).select_from(Cdr)) or 0
            charged = await session.scalar(select(func.sum(Cdr.charge))) or Decimal(0)
            balances = await session.scalar(select(func.sum(Customer.balance))) or Decimal(0)
        moved = Decimal(1_000_000) * len(customers) - balances
        rate = stored / elapsed
        print(
            f"throughput: {stored} CDRs in {elapsed:.2f} s = {rate:,.0f} CDRs/s "
            f"({args.workers} worker(s), batch {args.batch_size})"
        )
        print(
            f"  target >= {TARGET_RATE:,.0f}/s: ratio {rate / TARGET_RATE:.2f} "
            f"({'met' if rate >= TARGET_RATE else 'NOT met'})"
        )
        print(
            f"  exactly once: stored {stored}/{args.cdrs}; charges {charged} == balances "
            f"moved {moved}: {charged == moved}"
        )

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--cdrs", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--latency-calls", type=int, default=300)
    parser.add_argument("--time-limit", type=float, default=300.0, help="Bound of phase 1 (s).")
    args = parser.parse_args()
    if not 1 <= args.cdrs <= 2_000_000 or not 1 <= args.latency_calls <= 10_000:
        parser.error("--cdrs must be 1..2,000,000 and --latency-calls 1..10,000")
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.admin_url, "tandem_bench") as url,
    ):
        asyncio.run(run(args, url, Path(tmp)))


if __name__ == "__main__":
    main()
