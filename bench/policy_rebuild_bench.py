#!/usr/bin/env python3
"""How long sip_core's LivePolicy takes to apply a big rate card, and how long it stalls calls.

A LivePolicy watches a bundled nats-server; a sell card of ``--prefixes`` rates (default
100,000) is published as a ``ratecard`` blob, then re-published changed (as an operator's
import would), ``--rounds`` times. Printed per round: from the blob's pointer being written to
the new snapshot being in use (``applied``), the build itself (``build``, in a worker thread),
and the event loop's worst lag meanwhile (``max lag``: a 1 ms ticker's lateness — what a call
arriving during the rebuild waits at most). A customer change is timed the same way (small
rebuilds reuse the parsed cards). Figures are printed, never asserted.

    .venv/bin/python bench/policy_rebuild_bench.py --prefixes 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from libs.bus import BusConnector, provision
from libs.liveconfig import ConfigPublisher
from libs.liveconfig.models import CustomerConfig, RouteConfig, encode_rate_card
from libs.platform.natsd import NatsServer
from libs.telemetry import configure_logging
from services.sip_core.policy import LivePolicy


def card_blob(card_id: uuid.UUID, prefixes: int, rate: str) -> bytes:
    header = {
        "id": str(card_id), "currency": "EUR", "precision": 4, "rounding": "half_up",
        "name": "bench", "default_increments": "60/60",
    }  # fmt: skip
    revision = {"id": str(uuid.uuid4()), "effective_from": "2020-01-01T00:00:00+00:00"}
    rows = ([f"44{n:05d}", "UK", rate, "0", 60, 60, False] for n in range(prefixes))
    return b"".join(encode_rate_card(header, [(revision, rows)]))


class LagProbe:
    """A 1 ms ticker recording how late the event loop runs it."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, loop.time() - before - 0.001)

    def start(self) -> None:
        self.worst = 0.0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> float:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return self.worst


async def timed(policy: LivePolicy, probe: LagProbe, change) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    generation = policy.generation
    probe.start()
    started = time.monotonic()
    await change()
    deadline = started + 120
    while policy.generation == generation and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
    applied = time.monotonic() - started
    return applied, await probe.stop()


async def main(prefixes: int, rounds: int) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="policy-rebuild-") as tmp,
        NatsServer(store_dir=Path(tmp) / "js", port=0) as server,
    ):
        connector = BusConnector(server.url, name="policy-rebuild-bench")
        connector.start()
        try:
            await provision((await connector.wait_connected(10)).js)
            publisher = ConfigPublisher(connector)
            customer_id, card_id = uuid.uuid4(), uuid.uuid4()
            customer = CustomerConfig(
                id=customer_id, name="bench", status="active", currency="EUR",
                debit_limit="0",
            )  # fmt: skip
            route = RouteConfig(
                id=uuid.uuid4(), customer_id=str(customer_id), rate_card_id=str(card_id)
            )
            await publisher.publish(put=[customer, route])
            blobs = [card_blob(card_id, prefixes, f"0.{r + 1:04d}") for r in range(rounds + 1)]
            await publisher.put_blob("ratecard", card_id, blobs[0])
            policy = LivePolicy(connector)
            probe = LagProbe()
            policy.start()
            t0 = time.monotonic()
            await policy.wait_ready(120)
            print(f"initial load with a {prefixes:,}-prefix card: {time.monotonic() - t0:.2f} s")
            card_runs, small_runs = [], []
            for r in range(rounds):
                blob = blobs[r + 1]

                async def publish_card(blob: bytes = blob) -> None:
                    await publisher.put_blob("ratecard", card_id, blob)

                card_runs.append(await timed(policy, probe, publish_card))

                async def publish_customer(version: int = r + 1) -> None:
                    await publisher.publish(put=[customer.model_copy(update={"version": version})])

                small_runs.append(await timed(policy, probe, publish_customer))
            for name, runs in (("card change", card_runs), ("customer change", small_runs)):
                applied = statistics.median(a for a, _ in runs)
                lag = max(worst for _, worst in runs)
                print(
                    f"{name:16s} applied in {applied * 1000:8.1f} ms (median of {len(runs)}),"
                    f" worst event-loop lag {lag * 1000:6.1f} ms"
                )
            await policy.stop()
        finally:
            await connector.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--prefixes", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    configure_logging(service="policy_rebuild_bench", level="WARNING")
    asyncio.run(main(args.prefixes, args.rounds))
