"""The shipped processes together: ``python -m services.sip_core`` anchors a sipp call's RTP on
``python -m services.rtp_relay`` of its zone, and the CDR it publishes carries the media stats."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from libs.bus import Bus, Msg, provision
from libs.bus.cdr import CDR_SUBJECT, CallEnded, ReleaseReason
from libs.platform.natsd import NatsServer, free_port
from tests.rtp_relay.conftest import port_range
from tests.sip_core.sipp import scenario, start_sipp
from tests.sip_core.test_media_anchor import g711_pcap

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    with NatsServer(store_dir=tmp_path / "jetstream", port=0) as server:
        yield server


@pytest.fixture
async def own_bus(own_nats: NatsServer) -> AsyncIterator[Bus]:
    bus = await Bus.connect(own_nats.url, name="tests-media-processes", request_timeout=5.0)
    try:
        await provision(bus.js)
        yield bus
    finally:
        await bus.close()


def spawn(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO,
            env={**os.environ, "TANDEM_ENVIRONMENT": "development", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


async def metric(port: int, name: str) -> float | None:
    async with httpx.AsyncClient(timeout=2.0) as client:
        try:
            text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        except httpx.HTTPError:
            return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


@pytest.mark.parametrize("late", [False, True], ids=["offer_in_invite", "late_offer"])
async def test_a_sipp_call_through_the_sip_core_and_rtp_relay_processes(
    tmp_path: Path, own_nats: NatsServer, own_bus: Bus, late: bool
) -> None:
    nats = json.dumps([own_nats.url])
    port_min, port_max = port_range(16)
    carrier, sip_port, sip_http = free_port(), free_port(), free_port()
    relay = spawn(
        "services.rtp_relay",
        {
            "TANDEM_NODE_ID": "relay-1",
            "TANDEM_ZONE": "eu-test",
            "TANDEM_NATS__SERVERS": nats,
            "TANDEM_HTTP__PORT": str(free_port()),
            "TANDEM_MEDIA__HOST": "127.0.0.1",
            "TANDEM_MEDIA__PORT_MIN": str(port_min),
            "TANDEM_MEDIA__PORT_MAX": str(port_max),
        },
        tmp_path / "relay.log",
    )
    sip_core = spawn(
        "services.sip_core",
        {
            "TANDEM_NODE_ID": "sip-1",
            "TANDEM_ZONE": "eu-test",
            "TANDEM_NATS__SERVERS": nats,
            "TANDEM_HTTP__HOST": "127.0.0.1",
            "TANDEM_HTTP__PORT": str(sip_http),
            "TANDEM_SIP__HOST": "127.0.0.1",
            "TANDEM_SIP__UDP_PORT": str(sip_port),
            "TANDEM_SIP__TCP_PORT": "0",
            "TANDEM_SIP__STATIC_ROUTE": f"127.0.0.1:{carrier}",
            "TANDEM_SIP__STATIC_MEDIA_STRICT": "true",
            "TANDEM_SPOOL_DIR": str(tmp_path / "spool"),
        },
        tmp_path / "sip_core.log",
    )
    cdrs: list[CallEnded] = []

    async def collect(msg: Msg) -> None:
        cdrs.append(CallEnded.from_bytes(msg.data))

    await own_bus.subscribe(CDR_SUBJECT, collect)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while await metric(sip_http, "tandem_media_relays_live") != 1.0:
            assert loop.time() < deadline, (tmp_path / "sip_core.log").read_text()[-3000:]
            assert sip_core.poll() is None, (tmp_path / "sip_core.log").read_text()[-3000:]
            await asyncio.sleep(0.2)

        pcap = g711_pcap(tmp_path / "a.pcap")
        if late:  # the INVITE without SDP, the offer in the 200, the answer in the ACK
            carrier_side = [
                "-sf", str(scenario("uas_late_offer", tmp_path,
                                    answer="m=audio [1-9][0-9]* RTP/AVP 0", **{"not": "m=video"})),
            ]  # fmt: skip
            caller = scenario("uac_late_offer", tmp_path, pcap=pcap, pause=2500)
        else:
            carrier_side = ["-sn", "uas"]
            caller = scenario("uac_rtp", tmp_path, pcap=pcap, pause=2500)
        uas = await start_sipp(
            *carrier_side, "-rtp_echo", "-mp", str(free_port()), "-m", "1",
            port=carrier, cwd=tmp_path,
        )  # fmt: skip
        uac = await start_sipp(
            "-sf", str(caller), f"127.0.0.1:{sip_port}", "-mp", str(free_port()), "-m", "1",
            port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, uas):
            rc, out = await peer.finish()
            assert rc == 0, out
        deadline = loop.time() + 20
        while not cdrs:
            assert loop.time() < deadline, (tmp_path / "sip_core.log").read_text()[-3000:]
            await asyncio.sleep(0.1)
    finally:
        stop(sip_core)
        stop(relay)

    (cdr,) = cdrs
    assert cdr.node_id == "sip-1"
    assert cdr.release_reason is ReleaseReason.NORMAL
    assert cdr.media_caller is not None
    assert cdr.media_callee is not None
    assert cdr.media_caller.packets == 50
    assert cdr.media_callee.packets >= 45
    assert sip_core.returncode == 0
    assert relay.returncode == 0
