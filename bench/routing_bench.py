"""Micro-benchmark of libs.routing: prefix-index build, lookups, memory, and RoutingTable.plan.

Run: ``.venv/bin/python bench/routing_bench.py`` (``--sizes 100000`` for a quick run).

For each card size it builds a synthetic but realistically shaped rate card (country codes of
the ITU list, then area / mobile / NPA-NXX-like breakouts, 1 to 9 digits below the country code)
and prints:

* build time of the bare :class:`PrefixIndex` and of the whole card from plain data rows;
* ns per lookup and lookups/s (median of repeats) for numbers under the card's prefixes
  ("hit") and for numbers no prefix matches ("miss", the worst case: every length probed);
* the **ceiling**: a bare ``dict.get`` of the exact key, timed the same way in the same run,
  and each lookup's ratio to it — the figure that stays meaningful on a busy machine;
* memory per million prefixes (tracemalloc): the bare index (keys included), and the whole
  card (index + Rate objects, repeated amounts and names interned as the loader does);
* ``plan()`` calls/s for a route with three carriers, each with its own buy card of that size
  (at 100,000 prefixes by default: ``--plan-sizes 100000 1000000`` for both).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from libs.routing import (
    PrefixIndex,
    RoutingPlan,
    RoutingTable,
    parse_carrier,
    parse_rate_card,
    parse_route,
)

_ITU_CODES = (
    "1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 "
    "62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 211 212 213 216 218 220 221 222 223 224 "
    "225 226 227 228 229 230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 "
    "248 249 250 251 252 253 254 255 256 257 258 260 261 262 263 264 265 266 267 268 269 290 "
    "291 297 298 299 350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 375 376 377 "
    "378 380 381 382 383 385 386 387 389 420 421 423 500 501 502 503 504 505 506 507 508 509 "
    "590 591 592 593 594 595 596 597 598 599 670 672 673 674 675 676 677 678 679 680 681 682 "
    "683 685 686 687 688 689 690 691 692 850 852 853 855 856 880 886 960 961 962 963 964 965 "
    "966 967 968 970 971 972 973 974 975 976 977 992 993 994 995 996 998"
)
COUNTRY_CODES = _ITU_CODES.split()
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def prefixes(count: int, seed: int = 1) -> list[str]:
    """``count`` distinct prefixes shaped like an A-Z wholesale card."""
    rng = random.Random(seed)
    found: dict[str, None] = dict.fromkeys(COUNTRY_CODES)
    depths = (1, 2, 3, 4, 5, 6, 7, 8, 9)
    weights = (2, 4, 8, 10, 14, 20, 22, 14, 6)
    while len(found) < count:
        depth = rng.choices(depths, weights)[0]
        code = rng.choice(COUNTRY_CODES)
        found["".join((code, *rng.choices("0123456789", k=depth)))] = None
    return list(found)[:count]


def numbers_under(prefix_list: Sequence[str], count: int, seed: int = 2) -> list[str]:
    """Numbers of 11-13 digits, each starting with one of the prefixes."""
    rng = random.Random(seed)
    chosen = rng.choices(prefix_list, k=count)
    return [
        p + "".join(rng.choices("0123456789", k=max(0, rng.randint(11, 13) - len(p))))
        for p in chosen
    ]


def numbers_missing(index: PrefixIndex[Any], count: int, seed: int = 3) -> list[str]:
    """Numbers no prefix of ``index`` matches (country codes no card uses)."""
    rng = random.Random(seed)
    found: list[str] = []
    while len(found) < count:
        number = "".join(rng.choices("0123456789", k=12))
        if index.lookup(number) is None:
            found.append(number)
    return found


def per_call_ns(function: Callable[[str], object], inputs: Sequence[str], repeats: int) -> float:
    """Median over ``repeats`` of the mean CPU ns per call of ``function`` over ``inputs``.

    CPU time (``process_time_ns``), not wall time: on a shared machine another process's burst
    then does not count as ours. The loop itself is included, as it is in the ceiling.
    """
    samples = []
    for _ in range(repeats):
        started = time.process_time_ns()
        for item in inputs:
            function(item)
        samples.append((time.process_time_ns() - started) / len(inputs))
    return statistics.median(samples)


def measure_memory(build: Callable[[], object]) -> int:
    """The bytes still allocated after ``build()`` returned what it built (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    built = build()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del built
    return held


def rate_rows(prefix_list: Sequence[str], seed: int) -> list[dict[str, Any]]:
    """Plain rate rows as the configuration bucket carries them: new strings, as decoded JSON
    would be; a few hundred distinct prices and one destination name per country code."""
    rng = random.Random(seed)
    prices = [f"0.{rng.randint(1, 9999):04d}" for _ in range(400)]
    return [
        {"prefix": "".join(p), "destination": f"Destination {p[:3]}", "rate": rng.choice(prices)}
        for p in prefix_list
    ]


def card_data(card_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": card_id,
        "currency": "USD",
        "default_increments": "60/60",
        "revisions": [
            {"id": f"{card_id}-1", "effective_from": "2025-01-01T00:00:00Z", "rates": rows}
        ],
    }


ROW = "{:<34} {:9.0f} ns {:>12,.0f} /s {:7.1f}x ceiling"


def bench_size(size: int, repeats: int, lookups: int, *, with_plan: bool) -> None:
    print(f"\n== {size:,} prefixes")
    prefix_list = prefixes(size)
    value = object()

    started = time.perf_counter()
    index = PrefixIndex((p, value) for p in prefix_list)
    print(f"{'build PrefixIndex':<34} {time.perf_counter() - started:9.2f} s")
    print(f"{'prefix lengths present':<34} {list(index.lengths)}")

    hits = numbers_under(prefix_list, lookups)
    misses = numbers_missing(index, max(lookups // 5, 1000))
    # The ceiling: one dict.get per number, on a dict as big as the index (same cache misses).
    exact = dict.fromkeys(numbers_under(prefix_list, size, seed=4), value)
    exact.update(dict.fromkeys(hits, value))

    ceiling = per_call_ns(exact.get, hits, repeats)
    hit_ns = per_call_ns(index.lookup, hits, repeats)
    miss_ns = per_call_ns(index.lookup, misses, repeats)
    unchecked_ns = per_call_ns(index.lookup_digits, hits, repeats)
    print(ROW.format("ceiling: dict.get(exact key)", ceiling, 1e9 / ceiling, 1.0))
    print(ROW.format("lookup, number under a prefix", hit_ns, 1e9 / hit_ns, hit_ns / ceiling))
    print(ROW.format("lookup, no match (every length)", miss_ns, 1e9 / miss_ns, miss_ns / ceiling))
    print(
        ROW.format(
            "lookup_digits (number pre-checked)",
            unchecked_ns,
            1e9 / unchecked_ns,
            unchecked_ns / ceiling,
        )
    )
    del index, exact

    index_bytes = measure_memory(lambda: PrefixIndex(("".join(p), value) for p in prefix_list))
    print(
        f"{'memory, bare index (keys incl.)':<34} {index_bytes / size * 1e6 / 2**20:9.0f} MiB "
        f"per million prefixes ({index_bytes / size:.0f} B/prefix)"
    )
    started = time.perf_counter()
    sell = parse_rate_card(card_data("sell", rate_rows(prefix_list, seed=10)))
    print(f"{'build whole card from plain rows':<34} {time.perf_counter() - started:9.2f} s")
    card_bytes = measure_memory(
        lambda: parse_rate_card(card_data("sell", rate_rows(prefix_list, seed=10)))
    )
    print(
        f"{'memory, whole card (+ Rate objs)':<34} {card_bytes / size * 1e6 / 2**20:9.0f} MiB "
        f"per million rates ({card_bytes / size:.0f} B/rate)"
    )

    if not with_plan:
        return
    # plan(): a route over three carriers, each with its own buy card of the same size.
    cards = [sell] + [
        parse_rate_card(card_data(f"buy-{name}", rate_rows(prefix_list, seed=20 + n)))
        for n, name in enumerate("abc")
    ]
    carriers = [
        parse_carrier(
            {
                "id": name,
                "name": name.upper(),
                "rate_card_id": f"buy-{name}",
                "gateways": [
                    {"id": f"{name}1", "host": f"{name}1.example.net", "weight": 2},
                    {"id": f"{name}2", "host": f"{name}2.example.net", "weight": 1},
                ],
            }
        )
        for name in "abc"
    ]
    route = parse_route(
        {
            "id": "r1",
            "customer_id": "cust",
            "rate_card_id": "sell",
            "carriers": ["a", "b", "c"],
            "allow_below_cost": True,  # random prices: keep all three carriers in every plan
        }
    )
    table = RoutingTable(carriers, cards, [route])
    rng = random.Random(5)
    sample = hits[: max(lookups // 5, 1000)]
    for number in sample[:200]:
        result = table.plan("cust", number, "", "", NOW, rng)
        assert isinstance(result, RoutingPlan)
        assert len(result.attempts) == 3

    def one_plan(number: str) -> object:
        return table.plan("cust", number, "", "", NOW, rng)

    plan_ns = per_call_ns(one_plan, sample, repeats)
    print(ROW.format("plan(), 3 carriers, least cost", plan_ns, 1e9 / plan_ns, plan_ns / ceiling))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--lookups", type=int, default=50_000)
    parser.add_argument(
        "--plan-sizes",
        type=int,
        nargs="*",
        default=[100_000],
        help="sizes at which to time plan() (it builds three more cards of that size)",
    )
    args = parser.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load}")
    print("CPU ns per call, median of the repeats; 'x ceiling' = ratio to dict.get in this run")
    for size in args.sizes:
        bench_size(size, args.repeats, args.lookups, with_plan=size in args.plan_sizes)


if __name__ == "__main__":
    main()
