"""lookup_api throughput, memory per million LRN entries, and a 10-million-row reload.

Run: ``.venv/bin/python bench/lookup_bench.py`` (``--quick`` for short runs; ``--rows 1000000``
for a smaller reload).

1. **HTTP**: one server process pinned to core 1 (``taskset -c 1``), for each of uvicorn
   (uvloop + httptools, configured as ``libs.web.server.http_server``) and granian (ASGI,
   single-threaded runtime, uvloop); wrk (``-t1 -c50``, Debian ``wrk``) and this driver pinned to
   core 0. Without wrk (``apt-get install wrk``) a bounded asyncio load generator stands in and
   says so: it saturates first, so its figures are a floor. The benchmark installs nothing.
   Targets, measured in interleaved rounds (a noisy neighbour hits each alike), each reported as
   the median of ``--repeat`` runs with p50 / p99, the server's CPU and its ratios to the two
   yardsticks of the same run on the same server:

   * ``trivial``: a constant JSON answer from raw ASGI — the server's own ceiling;
   * ``fastapi``: a bare ``FastAPI()`` endpoint, as peerbench's ``http/app.py`` (the issue's
     7,500 rps on uvicorn, 8,900 on granian);
   * ``tandem-fastapi``: a plain route on lookup_api's own FastAPI stack (its middleware);
   * ``number``: ``GET /v1/numbers/+442079460018`` with an API key (libphonenumber, cached);
   * ``lrn``: ``GET /v1/lrn/+1…`` against a 1,000,000-row LRN dataset;
   * ``route``: ``GET /v1/routes/…`` (RoutingTable.plan over three carriers).

   Target (issue 9): ≥ 10,000 requests/s per core with p99 < 10 ms.
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
import contextlib
import gc
import json
import os
import re
import shutil
import signal
import statistics
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

KEY_FILE_ENV = "LOOKUP_BENCH_KEY_FILE"
SERVERS = ("uvicorn", "granian")


def lrn_index_blob(rows: int) -> bytes:
    from libs.lookup import DatasetBuilder, DatasetKind

    builder = DatasetBuilder(DatasetKind.LRN)
    for n in range(rows):
        builder.add_lrn(FIRST + n * 7, 19_170_000_000 + n % 5000, f"op{n % 200}")
    return builder.compile({"id": str(uuid.uuid4()), "name": "bench"}, None)


def bench_app() -> Any:
    """The ASGI app under test (a factory: granian imports it by name).

    lookup_api as ``python -m services.lookup_api`` builds it, with its data installed directly
    (no NATS needed), behind a dispatcher that also serves the two yardsticks of the same run:
    ``/bench/trivial`` (a constant answer from raw ASGI: the server's own ceiling) and
    ``/bench/fastapi/…`` (a bare ``FastAPI()`` app without Tandem's middleware, the endpoint
    of ``shared/peerbench/http/app.py``). ``/bench/tandem`` is a plain route on lookup_api's
    own FastAPI stack (middleware, problem handlers): what the lean path avoids. The API key is
    written to the file named by ``$LOOKUP_BENCH_KEY_FILE`` once everything is ready.
    """
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

    @app.get("/bench/tandem", include_in_schema=False)
    async def tandem() -> dict[str, bool]:
        return {"ok": True}

    plain = FastAPI()
    routes = {"4420": {"carrier": "carrier-uk-london", "rate": 0.0042}}

    @plain.get("/bench/fastapi/{number}")
    async def route(number: str) -> dict[str, Any]:  # as peerbench's http/app.py
        for n in range(min(len(number), 6), 0, -1):
            hit = routes.get(number[:n])
            if hit is not None:
                return {"number": number, "prefix": number[:n], **hit}
        return {"number": number, "prefix": None}

    body = b'{"ok":true}'
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"11")],
    }

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # no NATS here: lookup_api's own lifespan stays off
            while True:
                message = await receive()
                kind = message["type"].rpartition(".")[2]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        path = scope["path"]
        if path == "/bench/trivial":
            await send(start)
            await send({"type": "http.response.body", "body": body})
        elif path.startswith("/bench/fastapi/"):
            await plain(scope, receive, send)
        else:
            await app(scope, receive, send)

    Path(os.environ[KEY_FILE_ENV]).write_text(token.plaintext)
    return dispatch


def server_command(server: str, port: int) -> list[str]:
    """How the child serving :func:`bench_app` is started (pinned to core 1)."""
    if server == "granian":
        # As ``python -m services.lookup_api`` runs it (services/lookup_api/__main__.py).
        return [
            *pin(1),
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--runtime-mode",
            "st",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
            "--working-dir",
            str(REPO),
            "bench.lookup_bench:bench_app",
        ]
    return [*pin(1), sys.executable, __file__, "--serve", str(port)]


def serve_uvicorn(port: int) -> None:
    """uvicorn as ``python -m services.lookup_api`` configures it (uvloop, httptools)."""
    from libs.config import HttpSettings
    from libs.web.server import http_server

    http_server(bench_app(), HttpSettings(host="127.0.0.1", port=port), lifespan="off").run()


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
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
        "socket_errors": socket_errors.group(1) if socket_errors else None,  # type: ignore[dict-item]
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


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its children (granian serves from a worker process)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    total = 0
    for one in set(pids):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# -- the parts -----------------------------------------------------------------------------------

#: What is measured, by name: (path, whether it takes the API key).
TARGETS = {
    "trivial": ("/bench/trivial", False),
    "fastapi": ("/bench/fastapi/442071234567", False),
    "tandem-fastapi": ("/bench/tandem", False),
    "number": ("/v1/numbers/+442079460018", True),
    "lrn": (f"/v1/lrn/+{FIRST + 7 * 123_456}", True),
    "route": ("/v1/routes/442079460018?customer_id=00000000-0000-0000-0000-0000000000c1", True),
}


def http_server_part(server: str, args: argparse.Namespace) -> dict[str, Any]:
    from libs.platform.natsd import free_port

    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="lookup-bench-"))
    key_file = workdir / "key"
    # The server's own log (tandem-fastapi's access log is a line per request) goes to a file,
    # not into the figures; it is printed if the server fails to start.
    server_log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        server_command(server, port),
        cwd=REPO,
        env={**os.environ, KEY_FILE_ENV: str(key_file)},
        stdout=server_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not key_file.exists() or not key_file.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                server_log.flush()
                tail = (workdir / "server.log").read_text(errors="replace")[-4000:]
                raise RuntimeError(f"lookup_api on {server} did not start:\n{tail}")
            time.sleep(0.1)
        time.sleep(1.5)
        key = {"X-API-Key": key_file.read_text()}
        names = [n for n in TARGETS if not args.only or n in args.only]
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for name in names:  # warm-up: caches, allocator, the JIT-less interpreter's dicts
            path, keyed = TARGETS[name]
            load(port, path, key if keyed else {}, 2, args.connections)
        for round_ in range(args.repeat):  # interleaved: a noisy neighbour hits every target
            for name in names:
                path, keyed = TARGETS[name]
                cpu, wall = cpu_seconds(process.pid), time.monotonic()
                result = load(port, path, key if keyed else {}, args.seconds, args.connections)
                result["server_cpu_pct"] = round(
                    100 * (cpu_seconds(process.pid) - cpu) / (time.monotonic() - wall)
                )
                runs[name].append(result)
                log(
                    f"  {server:8s} round {round_ + 1} {name:15s} {result['rps']:8.0f} rps  "
                    f"p50 {result['p50_ms']:5.2f} ms  p99 {result['p99_ms']:5.2f} ms  "
                    f"cpu {result['server_cpu_pct']:3d} %  non-2xx {result['non_2xx']:.0f}"
                )
        results: dict[str, Any] = {}
        for name, measured in runs.items():
            ordered = sorted(measured, key=lambda r: r["rps"])
            median = ordered[len(ordered) // 2]
            results[name] = {
                "rps": round(statistics.median(r["rps"] for r in measured)),
                "p50_ms": median["p50_ms"],
                "p99_ms": round(statistics.median(r["p99_ms"] for r in measured), 2),
                "server_cpu_pct": median["server_cpu_pct"],
                "non_2xx": sum(r["non_2xx"] for r in measured),
                "runs": [round(r["rps"]) for r in measured],
            }
        for result in results.values():
            for yardstick in ("trivial", "fastapi"):
                if yardstick in results:
                    result[f"ratio_to_{yardstick}"] = round(
                        result["rps"] / results[yardstick]["rps"], 3
                    )
        return results
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and its worker
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        server_log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def http_part(args: argparse.Namespace) -> dict[str, Any]:
    generator = "wrk" if shutil.which("wrk") else "python-asyncio"
    if generator != "wrk":
        log(
            "  wrk is not installed (Debian: apt-get install wrk); falling back to a Python load "
            "generator, which saturates before the server does: the figures are a floor."
        )
    servers = [s for s in args.servers if s != "granian" or _has_granian()]
    if len(servers) < len(args.servers):
        log("  granian is not installed in this environment: measuring uvicorn only")
    report: dict[str, Any] = {
        "load_generator": generator,
        "pinned": PINNED,
        "connections": args.connections,
        "seconds": args.seconds,
        "repeat": args.repeat,
        "servers": {},
    }
    for server in servers:
        log(f"HTTP on {server} (one process on core 1, {args.connections} connections):")
        report["servers"][server] = http_server_part(server, args)
    for server, results in report["servers"].items():
        log(f"{server}: median of {args.repeat} (rps / p99 / ratio to trivial, to fastapi)")
        for name, r in results.items():
            log(
                f"  {name:15s} {r['rps']:7d} rps  p99 {r['p99_ms']:6.2f} ms  "
                f"x{r.get('ratio_to_trivial', float('nan')):.2f} trivial  "
                f"x{r.get('ratio_to_fastapi', float('nan')):.2f} fastapi  runs {r['runs']}"
            )
    return report


def _has_granian() -> bool:
    try:
        import granian  # noqa: F401
    except ImportError:
        return False
    return True


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
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=SERVERS)
    parser.add_argument("--only", nargs="*", default=[], choices=list(TARGETS))
    parser.add_argument("--quick", action="store_true", help="5 s runs, 1 repeat, 1M-row reload")
    parser.add_argument("--skip", nargs="*", default=[], choices=["http", "memory", "reload"])
    args = parser.parse_args()
    if args.serve:
        serve_uvicorn(args.serve)
        return
    if PINNED:
        os.sched_setaffinity(0, {0})  # the driver (and the Python fallback load) on core 0
    if args.quick:
        args.seconds, args.repeat, args.rows = 5, 1, 1_000_000
    report: dict[str, Any] = {}
    if "http" not in args.skip:
        report["http"] = http_part(args)
    if "memory" not in args.skip:
        report["memory"] = memory_part()
        log("memory:", report["memory"])
    if "reload" not in args.skip:
        report["reload"] = asyncio.run(reload_part(args.rows))
        log("reload:", report["reload"])
    print(json.dumps(report, indent=2))
    for server, results in report.get("http", {}).get("servers", {}).items():
        number = results.get("number")
        if number:
            verdict = number["rps"] >= 10_000 and number["p99_ms"] < 10
            outcome = "met" if verdict else "NOT met"
            log(f"{server}: target >= 10,000 rps/core and p99 < 10 ms on /v1/numbers: {outcome}")


if __name__ == "__main__":
    main()
