"""``python -m services.lookup_api`` serves on granian: ready on NATS, lean path, OpenAPI, and a
graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from libs.bus import BusConnector, provision
from libs.platform.natsd import NatsServer, free_port

REPO = Path(__file__).resolve().parents[2]


async def test_the_service_serves_on_granian(tmp_path: Path) -> None:
    with NatsServer(store_dir=tmp_path / "js", port=0) as nats:
        connector = BusConnector(nats.url, name="test-provision")
        connector.start()
        try:
            await provision((await connector.wait_connected(10)).js)
        finally:
            await connector.close()
        port = free_port()
        env = {
            **os.environ,
            "TANDEM_HTTP__PORT": str(port),
            "TANDEM_NATS__SERVERS": f'["{nats.url}"]',
            "TANDEM_LOOKUP__SERVER": "granian",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "services.lookup_api"],
            cwd=REPO,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                deadline = time.monotonic() + 60
                while True:  # a loaded machine: wait for readiness, bounded
                    assert process.poll() is None, "lookup_api exited"
                    try:
                        ready = await http.get("/readyz", timeout=2)
                        if ready.status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline, "lookup_api never became ready"
                    await asyncio.sleep(0.2)
                refused = await http.get("/v1/numbers/+442079460018")
                assert refused.status_code == 401
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.headers["strict-transport-security"].startswith("max-age=")
                paths = (await http.get("/openapi.json")).json()["paths"]
                assert {"/v1/numbers/{number}", "/v1/routes/{number}", "/v1/batch"} <= set(paths)
                metrics = (await http.get("/metrics")).text
                assert 'tandem_lookup_fast_requests_total{kind="number",status="401"}' in metrics
        finally:
            os.kill(process.pid, signal.SIGTERM)
            try:
                code = await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise
        assert code == 0
