#!/usr/bin/env python3
"""How many logins a Tandem API can take: password verifications per second at the default
cost, and login latency through the real API.

1. **Verifications per second on one core** at the default Argon2id cost (t=3, 64 MiB, 4 lanes;
   ``libs.security.ArgonCost()``), the process pinned to one CPU: the number to size login
   capacity with (each login costs one verification, whether the account exists or not).
   Then the same with every core busy (one worker thread per core), for the machine's ceiling.
2. **Login latency** through the real API: ``python -m services.customer_api`` served by uvicorn
   on 127.0.0.1 with a fresh SQLite database, its dev secrets and the default cost; httpx logs
   one customer user in, sequentially (p50/p99), then with concurrent clients (logins/s next to
   the verification ceiling). A login is throttle rows, one verification, a session and tokens:
   the ratio login p50 / one verification shows what the rest costs.

    .venv/bin/python bench/password_bench.py
    .venv/bin/python bench/password_bench.py --logins 100 --concurrency 8 --max-seconds 60

Bounded: at most ``--verifies`` verifications and ``--logins`` logins, each phase also stops
after ``--max-seconds``; loopback only; the API process is stopped by its PID. Results are
printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from libs.config import IdentitySettings  # noqa: E402
from libs.db import Database  # noqa: E402
from libs.db.migrate import upgrade  # noqa: E402
from libs.db.models import Customer, CustomerUser, CustomerUserRole  # noqa: E402
from libs.platform.devsecrets import ensure_dev_secrets, secret_file_env  # noqa: E402
from libs.platform.natsd import free_port  # noqa: E402
from libs.security import ArgonCost, PasswordService, PepperRing  # noqa: E402

PASSWORD = "a reasonably long passphrase for the bench"
EMAIL = "bench.user@customer.example"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


@contextlib.contextmanager
def pinned(cpu: int) -> Iterator[None]:
    """Run the block on one CPU (Linux); elsewhere, unpinned."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def bench_verify(service: PasswordService, count: int, max_seconds: float) -> list[float]:
    stored = service.hash(PASSWORD, EMAIL)
    times: list[float] = []
    deadline = time.monotonic() + max_seconds
    while len(times) < count and time.monotonic() < deadline:
        started = time.perf_counter()
        assert service.verify(stored, PASSWORD, EMAIL)
        times.append(time.perf_counter() - started)
    return times


def bench_verify_all_cores(service: PasswordService, seconds: float) -> float:
    stored = service.hash(PASSWORD, EMAIL)
    done = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        nonlocal done
        while time.monotonic() < stop:
            service.verify(stored, PASSWORD, EMAIL)
            with lock:
                done += 1

    threads = [threading.Thread(target=worker) for _ in range(os.cpu_count() or 1)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done / (time.perf_counter() - started)


async def seed(database_url: str, identity: IdentitySettings) -> None:
    from libs.identity import IdentityContext
    from libs.security import PrincipalKind

    context = IdentityContext.from_settings(
        identity, kind=PrincipalKind.CUSTOMER, service="customer_api"
    )
    database = Database(database_url, pool_size=1)
    try:
        async with database.session() as session:
            customer = Customer(id=uuid.uuid4(), name="Bench", currency="EUR")
            session.add(customer)
            await session.flush()
            session.add(
                CustomerUser(
                    customer_id=customer.id,
                    email=EMAIL,
                    name="",
                    role=CustomerUserRole.ADMIN,
                    password_hash=context.passwords.hash(PASSWORD, EMAIL),
                    must_change_password=False,
                    allowed_sources=[],
                    disabled=False,
                )
            )
            await session.commit()
    finally:
        await database.dispose()


def start_api(workdir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    upgrade(database_url)
    secrets = ensure_dev_secrets(workdir)
    identity = IdentitySettings(
        **{name: path.read_text().strip() for name, path in secrets.items()}
    )
    asyncio.run(seed(database_url, identity))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    env |= {
        "TANDEM_ENVIRONMENT": "development",
        "TANDEM_LOG_LEVEL": "WARNING",
        "TANDEM_DATABASE__URL": database_url,
        "TANDEM_HTTP__HOST": "127.0.0.1",
        "TANDEM_HTTP__PORT": str(port),
        # A port nobody listens on: security events are dropped, as when NATS is down.
        "TANDEM_NATS__SERVERS": f'["nats://127.0.0.1:{free_port()}"]',
        **secret_file_env(secrets),
    }
    log = workdir / "customer_api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.customer_api"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base, log
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"customer_api did not start; see {log}")


def bench_logins(
    base: str, service: PasswordService, count: int, max_seconds: float
) -> tuple[list[float], list[float]]:
    """Login times, and bare verification times taken in turn with them (same load)."""
    logins: list[float] = []
    verifies: list[float] = []
    stored = service.hash(PASSWORD, EMAIL)
    body = {"email": EMAIL, "password": PASSWORD}
    deadline = time.monotonic() + max_seconds
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.post("/v1/auth/login", json=body).status_code == 200  # warm-up
        while len(logins) < count and time.monotonic() < deadline:
            started = time.perf_counter()
            response = client.post("/v1/auth/login", json=body)
            logins.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            started = time.perf_counter()
            service.verify(stored, PASSWORD, EMAIL)
            verifies.append(time.perf_counter() - started)
    return logins, verifies


async def bench_concurrent_logins(
    base: str, concurrency: int, count: int, max_seconds: float
) -> tuple[int, float]:
    body = {"email": EMAIL, "password": PASSWORD}
    done = 0
    deadline = time.monotonic() + max_seconds

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def worker() -> None:
            nonlocal done
            while done < count and time.monotonic() < deadline:
                response = await client.post("/v1/auth/login", json=body)
                assert response.status_code == 200, response.text
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verifies", type=int, default=30)
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-seconds", type=float, default=45.0)
    args = parser.parse_args()

    cost = ArgonCost()
    cores = os.cpu_count() or 1
    print(
        f"default cost: Argon2id t={cost.time_cost}, m={cost.memory_cost // 1024} MiB, "
        f"p={cost.parallelism}; {cores} CPU(s)"
    )
    service = PasswordService(PepperRing.from_spec(f"b1:{'A' * 43}="), cost)

    with pinned(0):
        one_core = bench_verify(service, args.verifies, args.max_seconds)
    verify_p50 = statistics.median(one_core)
    per_second_one_core = len(one_core) / sum(one_core)
    print(
        f"verify, one core:    {per_second_one_core:7.2f} verifications/s "
        f"(p50 {verify_p50 * 1000:.0f} ms, {len(one_core)} runs)"
    )
    all_cores = bench_verify_all_cores(service, min(10.0, args.max_seconds))
    print(
        f"verify, all {cores} core(s) busy: {all_cores:7.2f} verifications/s "
        f"({all_cores / per_second_one_core:.2f}x one core)"
    )

    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as folder:
        process, base, log = start_api(Path(folder))
        try:
            logins, lone = bench_logins(base, service, args.logins, args.max_seconds)
            lone_p50 = statistics.median(lone)
            p50, p99 = percentile(logins, 0.5), percentile(logins, 0.99)
            print(
                f"login via customer_api (sequential, {len(logins)} logins): "
                f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(logins) * 1000:.0f} ms"
            )
            print(
                f"  one bare verification, unpinned, taken in turn with the logins: "
                f"p50 {lone_p50 * 1000:.0f} ms"
            )
            print(
                f"  login p50 / bare verification p50: {p50 / lone_p50:.2f}x "
                f"(everything but the hash: {(p50 - lone_p50) * 1000:+.0f} ms)"
            )
            done, elapsed = asyncio.run(
                bench_concurrent_logins(base, args.concurrency, args.logins, args.max_seconds)
            )
            rate = done / elapsed
            print(
                f"login via customer_api ({args.concurrency} concurrent clients, {done} logins): "
                f"{rate:.2f} logins/s = {rate / all_cores:.0%} of the all-core verification rate"
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        errors = [
            line for line in log.read_text().splitlines() if "[error" in line or "Traceback" in line
        ]
        if errors:
            print(f"API log had {len(errors)} error line(s); first: {errors[0][:200]}")


if __name__ == "__main__":
    main()
