"""`tandem up`: the whole platform on its embedded default, and a clean stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest

from libs.bus import Bus, live_nodes
from libs.platform.natsd import free_port

pytestmark = pytest.mark.slow

TANDEM = Path(sys.executable).with_name("tandem")
SERVICES = ("switch_api", "customer_api", "lookup_api", "sip_core", "rtp_relay", "billing")
# A cheap password hash keeps this test fast; the default cost is measured by the benchmark.
CHEAP_ARGON2 = {
    "TANDEM_IDENTITY__ARGON2_TIME_COST": "1",
    "TANDEM_IDENTITY__ARGON2_MEMORY_KIB": "1024",
    "TANDEM_IDENTITY__ARGON2_PARALLELISM": "1",
}


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc: children of children included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _presence(url: str) -> list[object]:
    bus = await Bus.connect(url, name="platform-test")
    try:
        return list(await live_nodes(bus))
    finally:
        await bus.close()


def _options(port: int) -> bytes:
    call_id = uuid.uuid4().hex
    return (
        f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{{local}};branch=z9hG4bK{call_id[:10]};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@127.0.0.1>;tag={call_id[:8]}\r\n"
        f"To: <sip:ping@127.0.0.1:{port}>\r\n"
        f"Call-ID: {call_id}@probe\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


@pytest.fixture
def platform(
    tmp_path: Path,
) -> Iterator[tuple[subprocess.Popen[str], dict[str, int], list[str], Path]]:
    ports = {
        "nats-port": free_port(),
        "nats-monitor-port": free_port(),
        "switch-api-port": free_port(),
        "customer-api-port": free_port(),
        "lookup-api-port": free_port(),
        "sip-core-http-port": free_port(),
        "rtp-relay-http-port": free_port(),
        "billing-http-port": free_port(),
        "sip-port": free_port(),
        "sip-tls-port": free_port(),
    }
    args = [str(TANDEM), "up", "--data-dir", str(tmp_path / "data"), "--ready-timeout", "90"]
    for name, port in ports.items():
        args += [f"--{name}", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")} | CHEAP_ARGON2
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "all services ready" in line:
                break
        if not any("all services ready" in line for line in lines):
            logs = "".join(
                f"\n--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-15:])
                for log in sorted((tmp_path / "data" / "logs").glob("*.log"))
            )
            pytest.fail("tandem up did not get ready:\n" + "".join(lines) + logs)
        yield process, ports, lines, tmp_path / "data"
    finally:
        if process.poll() is None:
            descendants = _descendants(process.pid)
            process.send_signal(signal.SIGKILL)
            for pid in descendants:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _bootstrap_operator(client: httpx.Client, base: str, data_dir: Path) -> dict[str, str]:
    """`tandem admin create`, then the forced set-up: new password, TOTP; a full session."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")} | CHEAP_ARGON2
    created = subprocess.run(
        [str(TANDEM), "admin", "create", "--email", "noc@example.com", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    one_time = created.stdout.split("one-time password: ", 1)[1].split()[0]
    login = {"email": "noc@example.com", "password": one_time}
    first = client.post(f"{base}/v1/auth/login", json=login).json()
    assert first["restrictions"] == ["password_change", "totp_enrolment"]
    limited = {"Authorization": f"Bearer {first['access_token']}"}
    new_password = "embedded platform passphrase"
    changed = client.post(
        f"{base}/v1/auth/password",
        json={"current_password": one_time, "new_password": new_password},
        headers=limited,
    )
    assert changed.status_code == 204, changed.text
    secret = client.post(f"{base}/v1/auth/totp/enrol", headers=limited).json()["secret"]
    totp = pyotp.TOTP(secret)
    confirmed = client.post(
        f"{base}/v1/auth/totp/confirm", json={"code": totp.now()}, headers=limited
    )
    assert confirmed.status_code == 200, confirmed.text
    # The next step's code: the one just used can never be accepted again.
    login = {"email": "noc@example.com", "password": new_password}
    full = client.post(
        f"{base}/v1/auth/login", json={**login, "totp_code": totp.at(time.time() + 30)}
    )
    assert full.status_code == 200, full.text
    return {"Authorization": f"Bearer {full.json()['access_token']}"}


def test_tandem_up_runs_every_service_and_stops_cleanly(
    platform: tuple[subprocess.Popen[str], dict[str, int], list[str], Path],
) -> None:
    process, ports, lines, data_dir = platform
    banner = "".join(lines)
    for service in SERVICES:
        assert service in banner
    assert "tandem admin create --email" in banner  # no operator yet: the bootstrap hint

    http_ports = {
        "switch_api": ports["switch-api-port"],
        "customer_api": ports["customer-api-port"],
        "lookup_api": ports["lookup-api-port"],
        "sip_core": ports["sip-core-http-port"],
        "billing": ports["billing-http-port"],
        "rtp_relay": ports["rtp-relay-http-port"],
    }
    with httpx.Client(timeout=5) as client:
        for service, port in http_ports.items():
            ready = client.get(f"http://127.0.0.1:{port}/readyz")
            assert ready.status_code == 200, (service, ready.text)
            metrics = client.get(f"http://127.0.0.1:{port}/metrics")
            assert metrics.status_code == 200, service

        base = f"http://127.0.0.1:{ports['switch-api-port']}"
        anonymous = client.post(f"{base}/v1/customers", json={"name": "X", "currency": "USD"})
        assert anonymous.status_code == 401
        headers = _bootstrap_operator(client, base, data_dir)
        created = client.post(
            f"{base}/v1/customers", json={"name": "Embedded", "currency": "USD"}, headers=headers
        )
        assert created.status_code == 201, created.text
        read = client.get(base + created.headers["location"], headers=headers)
        assert read.json()["name"] == "Embedded"

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        request = _options(ports["sip-port"]).replace(
            b"{local}", str(sock.getsockname()[1]).encode()
        )
        sock.sendto(request, ("127.0.0.1", ports["sip-port"]))
        answer, _ = sock.recvfrom(65535)
    assert answer.startswith(b"SIP/2.0 200 "), answer

    nodes = asyncio.run(_presence(f"nats://127.0.0.1:{ports['nats-port']}"))
    assert {(node.role, node.zone) for node in nodes} >= {
        ("sip_core", "default"),
        ("rtp_relay", "default"),
    }

    processes = _descendants(process.pid)
    assert len(processes) >= len(SERVICES) + 1  # the services and nats-server

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in processes if _alive(pid)], "processes left behind"
