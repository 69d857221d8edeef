"""How fast an API write reaches the nodes: switch_api write returned → ConfigView applied.

Run: ``.venv/bin/python bench/config_propagation_bench.py`` (``--writes 500``,
``--database-url postgresql+asyncpg://…`` for PostgreSQL; default: a fresh SQLite file).

A real switch_api process (uvicorn, loopback) and a bundled nats-server; the watching
:class:`~libs.liveconfig.ConfigView` runs in this process, as a node would. Writes are sent one
after another, a mix of what operators do most: firewall blocks and unblocks, customer
updates, new customers, IP authentication entries. For each, the latency is the time from the
response arriving to the view having applied that object's new version (0 when the view had
it before the response arrived: switch_api publishes after the commit, before responding).
Each wait is bounded (5 s; a miss is counted, never waited out). Printed: p50/p99/max, misses,
and the ratio to the reference products' 60 s (and 15 min for firewall changes).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _switch_api import running_switch_api  # bench/ is the script folder

from libs.liveconfig import Change, ConfigView
from libs.liveconfig.models import CONFIG_KINDS

BOUND = 5.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def main(writes: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="tandem-propagation-") as tmp:
        async with running_switch_api(Path(tmp), database_url=database_url) as switch:
            applied: dict[tuple[str, uuid.UUID], tuple[Any, float]] = {}
            waiters: dict[tuple[str, uuid.UUID], asyncio.Event] = {}

            def on_change(changes: list[Change]) -> None:
                now = time.monotonic()
                for change in changes:
                    key = (change.kind, change.id)
                    applied[key] = (change.new, now)
                    event = waiters.get(key)
                    if event is not None:
                        event.set()

            view = ConfigView(switch.connector, CONFIG_KINDS, on_change=on_change)
            view.start()
            await asyncio.wait_for(view.loaded.wait(), 10)
            api = switch.client

            since_sent: list[float] = []

            async def settle(kind: str, object_id: str, done: Any, sent: float) -> float | None:
                """Seconds from now (the response) until ``done(new)`` holds for the key."""
                key = (kind, uuid.UUID(object_id))
                returned = time.monotonic()
                while True:
                    state = applied.get(key)
                    if state is not None and done(state[0]):
                        since_sent.append(state[1] - sent)
                        return max(0.0, state[1] - returned)
                    event = waiters.setdefault(key, asyncio.Event())
                    event.clear()
                    remaining = BOUND - (time.monotonic() - returned)
                    if remaining <= 0:
                        return None
                    try:
                        await asyncio.wait_for(event.wait(), remaining)
                    except TimeoutError:
                        return None

            latencies: dict[str, list[float]] = {"firewall": [], "other": []}
            round_trips: list[float] = []
            misses = 0
            customers: list[dict[str, Any]] = []
            rules: list[str] = []
            for i in range(writes):
                step = i % 5
                sent = time.monotonic()
                if step == 0 or not customers:
                    body = {"name": f"Bench {uuid.uuid4().hex[:10]}", "currency": "EUR"}
                    response = await api.post("/v1/customers", json=body)
                    obj = response.json()
                    customers.append(obj)
                    kind, check, family = "customer", (lambda n: n is not None), "other"
                elif step == 1:
                    network = f"10.{(i >> 8) & 255}.{i & 255}.{(i >> 16) & 255}"
                    response = await api.post(
                        "/v1/firewall-rules", json={"network": network, "action": "block"}
                    )
                    obj = response.json()
                    rules.append(obj["id"])
                    kind, check, family = "firewall", (lambda n: n is not None), "firewall"
                elif step == 2:
                    target = customers[-1]
                    response = await api.patch(
                        f"/v1/customers/{target['id']}", json={"channel_limit": i}
                    )
                    obj = response.json()
                    version = obj["version"]
                    kind, family = "customer", "other"
                    check = lambda n, v=version: n is not None and n.version >= v  # noqa: E731
                elif step == 3:
                    response = await api.post(
                        "/v1/ip-auth",
                        json={
                            "customer_id": customers[-1]["id"],
                            "address": f"172.16.{(i >> 8) & 255}.{i & 255}",
                            "direction": "ingress",
                        },
                    )
                    obj = response.json()
                    kind, check, family = "ipauth", (lambda n: n is not None), "other"
                else:
                    rule = rules.pop()
                    response = await api.delete(f"/v1/firewall-rules/{rule}")
                    obj = {"id": rule}
                    kind, check, family = "firewall", (lambda n: n is None), "firewall"
                round_trips.append(time.monotonic() - sent)
                if response.status_code >= 300:
                    raise RuntimeError(f"write {i} failed: {response.status_code} {response.text}")
                latency = await settle(kind, obj["id"], check, sent)
                if latency is None:
                    misses += 1
                else:
                    latencies[family].append(latency)
            await view.stop()

    every = latencies["firewall"] + latencies["other"]
    p50, p99 = percentile(every, 0.50), percentile(every, 0.99)
    firewall_p99 = percentile(latencies["firewall"], 0.99)
    print(f"writes                     {writes} ({len(latencies['firewall'])} firewall)")
    print(f"backend                    {'PostgreSQL' if database_url else 'SQLite'}")
    print(
        f"write round trip p50/p99  {percentile(round_trips, 0.5) * 1e3:8.2f} / "
        f"{percentile(round_trips, 0.99) * 1e3:.2f} ms"
    )
    print(f"propagation p50            {p50 * 1e3:8.2f} ms")
    print(f"propagation p99            {p99 * 1e3:8.2f} ms   (target < 1000 ms)")
    print(f"propagation max            {max(every) * 1e3:8.2f} ms")
    print(f"propagation mean           {statistics.fmean(every) * 1e3:8.2f} ms")
    print(
        f"request sent -> applied    p50 {percentile(since_sent, 0.5) * 1e3:.2f} ms, "
        f"p99 {percentile(since_sent, 0.99) * 1e3:.2f} ms"
    )
    print(f"misses (> {BOUND:.0f} s)             {misses}")
    worst = max(p99, 1e-3)
    print(f"vs reference 60 s          {60 / worst:,.0f}x faster at p99")
    print(f"vs reference 15 min (fw)   {900 / max(firewall_p99, 1e-3):,.0f}x faster at p99")
    if p99 >= 1.0 or misses:
        raise SystemExit("target missed: p99 must stay under one second")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.writes, args.database_url))
