"""lookup_api throughput, memory per million LRN entries, and a 10-million-row reload.

Run: ``.venv/bin/python bench/lookup_bench.py`` (``--quick`` for short runs; ``--rows 1000000``
for a smaller reload).

1. **HTTP**: one lookup_api process (uvicorn, uvloop + httptools, one worker) pinned to core 1;
   wrk (``-t1 -c50``, Debian ``wrk``) pinned to core 0 — or, if wrk is not installed, a bounded
   asyncio load generator (keep-alive connections, fixed duration). The benchmark installs
   nothing. Measured in the same run, on the same server stack:

   * ``trivial``: a constant JSON answer from raw ASGI — the stack's ceiling;
   * ``fastapi``: a plain FastAPI endpoint (what the issue's 7,500 rps figure is);
   * ``number``: ``GET /v1/numbers/+442079460018`` with an API key (libphonenumber, cached);
   * ``lrn``: ``GET /v1/lrn/+1…`` against a 1,000,000-row LRN dataset;
   * ``route``: ``GET /v1/routes/…`` (RoutingTable.plan over three carriers).

   Each is reported as requests/s (median of ``--repeat`` runs), p50 / p99 latency and the
   ratio to ``trivial``. Target (issue 9): ≥ 10,000 requests/s per core with p99 < 10 ms.
2. **Memory** per million LRN entries: the index's arrays, and what loading adds (tracemalloc).
3. **Reload**: a ``--rows`` (10,000,000) LRN dataset published to a real nats-server's object
   store and picked up by a watching :class:`~services.lookup_api.state.LookupState`: seconds
   from the pointer's write to the new snapshot (download, SHA-256 check, load, swap), and the
   load + swap alone.

Traffic goes to 127.0.0.1 only; every load is bounded in time; the processes started are
stopped by their PIDs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PINNED = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
LRN_ROWS = 1_000_000
FIRST = 12_000_000_000


def pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if PINNED else []


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


# -- the server under test (a child process) -----------------------------------------------------


def lrn_index_blob(rows: int) -> bytes:
    from libs.lookup import DatasetBuilder, DatasetKind

    builder = DatasetBuilder(DatasetKind.LRN)
    for n in range(rows):
        builder.add_lrn(FIRST + n * 7, 19_170_000_000 + n % 5000, f"op{n % 200}")
    return builder.compile({"id": str(uuid.uuid4()), "name": "bench"}, None)


def serve(port: int, key_file: Path) -> None:
    """Run lookup_api with its data installed directly (no NATS needed for the HTTP runs)."""
    import uvicorn
    from fastapi import FastAPI

    from libs.identity import API_KEY_PREFIX
    from libs.liveconfig.models import LookupKeyConfig
    from libs.lookup import load_dataset
    from libs.security import new_token
    from services.lookup_api.app import create_app
    from services.lookup_api.config import LookupApiSettings
    from tests.lookup_api.factories import routing_config

    app = create_app(
        LookupApiSettings(nats={"servers": ["nats://127.0.0.1:1"], "connect_timeout": 0.2})
    )
    token = new_token(API_KEY_PREFIX)
    key = LookupKeyConfig(
        id=uuid.uuid4(), lookup_id=token.lookup_id, key_hash=token.token_hash, name="bench"
    )
    lrn = load_dataset(lrn_index_blob(LRN_ROWS))
    data: dict[str, Any] = {**routing_config(), "lookupkey": {key.id: key}, "lrn": {lrn.id: lrn}}
    app.state.lookup.install(data, set(data))

    @app.get("/bench/fastapi")
    async def plain() -> dict[str, bool]:
        return {"ok": True}

    body = b'{"ok":true}'

    async def outer(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/bench/trivial":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    assert isinstance(app, FastAPI)
    key_file.write_text(token.plaintext)
    uvicorn.run(
        outer,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


# -- load generators -----------------------------------------------------------------------------


def wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> dict[str, float]:
    command = [*pin(0), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout

    def latency(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not found:
            return float("nan")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


async def _python_load(
    host: str, port: int, path: str, headers: dict[str, str], seconds: float, connections: int
) -> dict[str, float]:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    payload = (request + "\r\n").encode()
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def one() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(payload)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200"):
                    failures += 1
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "non_2xx": float(failures),
    }


def load(
    port: int, path: str, headers: dict[str, str], seconds: int, connections: int
) -> dict[str, float]:
    if shutil.which("wrk"):
        return wrk(f"http://127.0.0.1:{port}{path}", headers, seconds, connections)
    return asyncio.run(_python_load("127.0.0.1", port, path, headers, seconds, connections))


# -- the parts -----------------------------------------------------------------------------------


def http_part(args: argparse.Namespace) -> dict[str, Any]:
    from libs.platform.natsd import free_port

    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="lookup-bench-"))
    key_file = workdir / "key"
    server = subprocess.Popen(
        [*pin(1), sys.executable, __file__, "--serve", str(port), str(key_file)],
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 120
        while not key_file.exists() or not key_file.read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("lookup_api did not start")
            time.sleep(0.1)
        time.sleep(1.0)
        key = {"X-API-Key": key_file.read_text()}
        customer = "00000000-0000-0000-0000-0000000000c1"
        targets = {
            "trivial": ("/bench/trivial", {}),
            "fastapi": ("/bench/fastapi", {}),
            "number": ("/v1/numbers/+442079460018", key),
            "lrn": (f"/v1/lrn/+{FIRST + 7 * 123_456}", key),
            "route": (f"/v1/routes/442079460018?customer_id={customer}", key),
        }
        results: dict[str, Any] = {}
        for name, (path, headers) in targets.items():
            load(port, path, headers, 2, args.connections)  # warm-up
            runs = [
                load(port, path, headers, args.seconds, args.connections)
                for _ in range(args.repeat)
            ]
            runs.sort(key=lambda r: r["rps"])
            median = runs[len(runs) // 2]
            results[name] = {**median, "runs": [round(r["rps"]) for r in runs]}
            log(
                f"  {name:8s} {median['rps']:9.0f} rps  p50 {median['p50_ms']:.2f} ms  "
                f"p99 {median['p99_ms']:.2f} ms  runs {results[name]['runs']}"
            )
        ceiling = results["trivial"]["rps"]
        for result in results.values():
            result["ratio_to_trivial"] = round(result["rps"] / ceiling, 3)
        return {
            "load_generator": "wrk" if shutil.which("wrk") else "python-asyncio",
            "pinned": PINNED,
            "connections": args.connections,
            "seconds": args.seconds,
            "results": results,
        }
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def memory_part() -> dict[str, Any]:
    from libs.lookup import load_dataset

    blob = lrn_index_blob(LRN_ROWS)
    gc.collect()
    tracemalloc.start()
    index = load_dataset(blob)
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.perf_counter()
    probes = 200_000
    for n in range(probes):
        index.get(str(FIRST + (n * 7919 % LRN_ROWS) * 7))  # type: ignore[attr-defined]
    per_lookup = (time.perf_counter() - started) / probes
    return {
        "rows": LRN_ROWS,
        "index_bytes_per_million": index.memory_bytes(),
        "traced_bytes_per_million": traced,
        "blob_bytes": len(blob),
        "lookup_us": round(per_lookup * 1e6, 2),
    }


async def reload_part(rows: int) -> dict[str, Any]:
    from libs.bus import BusConnector, provision
    from libs.liveconfig import ConfigPublisher
    from libs.lookup import DatasetBuilder, DatasetKind, load_dataset
    from libs.platform.natsd import NatsServer
    from services.lookup_api.state import LookupState

    started = time.perf_counter()
    builder = DatasetBuilder(DatasetKind.LRN)
    for n in range(rows):
        builder.add_lrn(FIRST + n, 19_170_000_000 + n % 5000, f"op{n % 200}")
    dataset_id = uuid.uuid4()
    blob = builder.compile({"id": str(dataset_id), "name": "reload"}, None)
    del builder
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    local = load_dataset(blob)
    load_seconds = time.perf_counter() - started
    del local
    with (
        tempfile.TemporaryDirectory(prefix="lookup-reload-") as workdir,
        NatsServer(store_dir=Path(workdir), port=0) as server,
    ):
        connector = BusConnector(server.url, name="lookup-bench")
        connector.start()
        try:
            await provision((await connector.wait_connected(10)).js)
            state = LookupState(connector)
            state.start()
            await asyncio.wait_for(state.view.loaded.wait(), 30)  # type: ignore[union-attr]
            publisher = ConfigPublisher(connector)
            started = time.perf_counter()
            await publisher.put_blob("lrn", dataset_id, blob, version=1)
            published = time.perf_counter()
            while not state.snapshot.lrn:
                await asyncio.sleep(0.01)
                if time.perf_counter() - started > 600:
                    raise TimeoutError("the dataset never arrived")
            arrived = time.perf_counter()
            assert state.snapshot.lrn[0].rows == rows
            await state.stop()
        finally:
            await connector.close()
    return {
        "rows": rows,
        "blob_mb": round(len(blob) / 1e6, 1),
        "build_seconds": round(build_seconds, 2),
        "publish_seconds": round(published - started, 2),
        "pickup_seconds_after_publish": round(arrived - published, 2),
        "load_and_swap_seconds": round(load_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "KEYFILE"), help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="5 s runs, 1 repeat, 1M-row reload")
    parser.add_argument("--skip", nargs="*", default=[], choices=["http", "memory", "reload"])
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]))
        return
    if args.quick:
        args.seconds, args.repeat, args.rows = 5, 1, 1_000_000
    report: dict[str, Any] = {}
    if "http" not in args.skip:
        log("HTTP (one lookup_api process, 50 connections):")
        report["http"] = http_part(args)
    if "memory" not in args.skip:
        report["memory"] = memory_part()
        log("memory:", report["memory"])
    if "reload" not in args.skip:
        report["reload"] = asyncio.run(reload_part(args.rows))
        log("reload:", report["reload"])
    print(json.dumps(report, indent=2))
    if "http" in report:
        number = report["http"]["results"]["number"]
        verdict = number["rps"] >= 10_000 and number["p99_ms"] < 10
        outcome = "met" if verdict else "NOT met"
        log(f"target >= 10,000 rps/core and p99 < 10 ms on /v1/numbers: {outcome}")


if __name__ == "__main__":
    main()
