"""A 500,000-row rate card imported through switch_api, with progress.

Run: ``.venv/bin/python bench/ratecard_import_bench.py`` (``--rows 500000``,
``--database-url postgresql+asyncpg://…`` for PostgreSQL; default: a fresh SQLite file).

A real switch_api process (uvicorn, loopback) receives the CSV as a streamed upload; this
process polls ``GET /v1/rate-imports/{id}`` every second from a second connection and prints
the progress. Printed: rows/s and total time of the import request, the switch_api process's
peak RSS (VmHWM), then the time until a watching ConfigView holds the activated card's compiled
blob (compile + object store + download + decode).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from _switch_api import running_switch_api  # bench/ is the script folder

from libs.liveconfig import ConfigView
from libs.liveconfig.models import load_rate_card_blob


def write_deck(path: Path, rows: int) -> int:
    """A synthetic A-Z deck of ``rows`` distinct prefixes; returns its size in bytes."""
    rng = random.Random(7)
    names = ["United Kingdom", "Germany", "France", "Spain - Mobile", "USA", "India", "Brazil"]
    with path.open("w", encoding="utf-8") as out:
        out.write("prefix,destination,rate,connection_fee,initial_increment,subsequent_increment\n")
        for index in range(rows):
            prefix = str(10_000_000 + index * 7)
            rate = f"0.{rng.randrange(1, 99999):05d}"
            out.write(
                f"{prefix},{rng.choice(names)},{rate},0,{rng.choice((1, 30, 60))},"
                f"{rng.choice((1, 6, 60))}\n"
            )
    return path.stat().st_size


async def chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while block := source.read(1 << 20):
            yield block


async def progress(poll: httpx.AsyncClient, log: Path, import_id: str) -> str:
    """From GET /v1/rate-imports/{id}; on SQLite, whose single writer holds every other request
    (the poll's authentication included) until the import commits, from the server's log."""
    try:
        seen = await poll.get(f"/v1/rate-imports/{import_id}")
        if seen.status_code == 200:
            p = seen.json()
            share = p["bytes_read"] / max(1, p["bytes_total"]) * 100
            return f"{p['rows_read']:>9,} rows  {share:5.1f}% of bytes  {p['state']} (API)"
    except httpx.TimeoutException:
        pass
    rows = 0
    for line in log.read_text(errors="replace").splitlines():
        if "rate import progress" in line and import_id in line:
            rows = json.loads(line).get("rows", rows)
    return f"{rows:>9,} rows (server log)" if rows else "uploading"


async def main(rows: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="tandem-import-") as tmp:
        deck = Path(tmp) / "deck.csv"
        size = write_deck(deck, rows)
        print(f"deck                       {rows:,} rows, {size / 2**20:.1f} MiB CSV")
        async with running_switch_api(Path(tmp) / "run", database_url=database_url) as switch:
            api = switch.client
            card = (
                await api.post(
                    "/v1/rate-cards",
                    json={"name": "Bench A-Z", "direction": "sell", "currency": "EUR"},
                )
            ).json()
            revision = (await api.post(f"/v1/rate-cards/{card['id']}/revisions", json={})).json()
            import_id = str(uuid.uuid4())
            path = f"/v1/rate-cards/{card['id']}/revisions/{revision['id']}/rates/import"
            started = time.monotonic()
            upload = asyncio.create_task(
                api.post(
                    path,
                    content=chunks(deck),
                    params={"import_id": import_id},
                    headers={"content-type": "text/csv"},
                )
            )
            async with httpx.AsyncClient(
                base_url=switch.url, headers=dict(api.headers), timeout=2.0
            ) as poll:
                while not upload.done():
                    await asyncio.sleep(1.0)
                    state = await progress(poll, switch.log, import_id)
                    print(f"  progress {time.monotonic() - started:6.1f} s  {state}")
            response = upload.result()
            elapsed = time.monotonic() - started
            if response.status_code != 200:
                raise SystemExit(f"import failed: {response.status_code} {response.text[:500]}")
            result = response.json()
            print(
                f"imported                   {result['rows']:,} rows in {elapsed:.2f} s "
                f"(server: {result['seconds']:.2f} s)"
            )
            print(f"throughput                 {result['rows'] / elapsed:,.0f} rows/s")
            print(f"switch_api peak RSS        {switch.peak_rss_mib():.0f} MiB")

            loaded = asyncio.Event()
            view = ConfigView(
                switch.connector,
                {},
                blobs={"ratecard": load_rate_card_blob},
                on_change=lambda changes: loaded.set(),
            )
            view.start()
            await asyncio.wait_for(view.loaded.wait(), 10)
            activated = time.monotonic()
            await api.post(f"/v1/rate-cards/{card['id']}/revisions/{revision['id']}/activate")
            while True:
                blob = view.get("ratecard", uuid.UUID(card["id"]))
                if blob and blob["revisions"] and len(blob["revisions"][0]["rates"]) == rows:
                    break
                loaded.clear()
                await asyncio.wait_for(loaded.wait(), 300)
            print(
                f"activate -> node has card  {time.monotonic() - activated:.2f} s "
                f"(compile, object store, download, decode of {rows:,} rates)"
            )
            await view.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.database_url))
