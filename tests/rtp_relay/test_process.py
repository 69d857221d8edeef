"""``python -m services.rtp_relay`` as a real process: uvloop, heartbeats, control, shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from libs.bus import Bus, NodeHeartbeat, live_nodes, provision
from libs.bus.media import (
    AnswerMedia,
    DeleteMedia,
    OfferMedia,
    PeerMedia,
    RelayStatus,
    RelayStatusRequested,
    relay_subject,
    request_media,
)
from libs.platform.natsd import NatsServer, free_port
from tests.rtp_relay.conftest import PeerFactory, port_range, rtp

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A server of its own: this test provisions JetStream assets (the presence bucket)."""
    with NatsServer(store_dir=tmp_path / "jetstream", port=0) as server:
        yield server


@pytest.fixture
async def own_bus(own_nats: NatsServer) -> AsyncIterator[Bus]:
    bus = await Bus.connect(own_nats.url, name="tests-sip-core", request_timeout=2.0)
    try:
        await provision(bus.js)
        yield bus
    finally:
        await bus.close()


@pytest.fixture
def relay_process(own_nats: NatsServer, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    port_min, port_max = port_range(16)
    env = {
        **os.environ,
        "TANDEM_NODE_ID": "relay-proc",
        "TANDEM_ZONE": "eu-test",
        "TANDEM_NATS__SERVERS": json.dumps([own_nats.url]),
        "TANDEM_HTTP__PORT": str(free_port()),
        "TANDEM_MEDIA__HOST": "127.0.0.1",
        "TANDEM_MEDIA__PORT_MIN": str(port_min),
        "TANDEM_MEDIA__PORT_MAX": str(port_max),
        "TANDEM_MEDIA__EVENT_LOOP": "uvloop",
    }
    log = (tmp_path / "relay.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.rtp_relay"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


async def wait_for_heartbeat(bus: Bus, predicate: object, timeout: float) -> NodeHeartbeat:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for heartbeat in await live_nodes(bus, role="rtp_relay", zone="eu-test"):
            if heartbeat.node_id == "relay-proc" and predicate(heartbeat):  # type: ignore[operator]
                return heartbeat
        await asyncio.sleep(0.2)
    raise AssertionError("no such heartbeat from the relay process")


async def test_the_relay_process_heartbeats_relays_and_stops_cleanly(
    own_bus: Bus, relay_process: subprocess.Popen[bytes], open_peer: PeerFactory
) -> None:
    bus = own_bus
    heartbeat = await wait_for_heartbeat(bus, lambda h: True, 20)
    assert heartbeat.capacity["port_pairs"] == 16
    assert heartbeat.load == 0.0
    assert heartbeat.addresses["media"] == "127.0.0.1"
    assert not heartbeat.draining
    status = await bus.request(
        relay_subject("relay-proc", "status"), RelayStatusRequested(), RelayStatus, timeout=5
    )
    assert status.zone == "eu-test"

    a, b = await open_peer(), await open_peer()
    offered = await request_media(
        bus, "relay-proc", OfferMedia(call_id="p1", peer=PeerMedia(address=a.ip, port=a.port))
    )
    await request_media(
        bus, "relay-proc", AnswerMedia(call_id="p1", peer=PeerMedia(address=b.ip, port=b.port))
    )
    for seq in range(100):
        a.send(rtp(seq, 160 * seq), offered.a.rtp_port)
    assert len(await b.recv_all(100)) == 100
    loaded = await wait_for_heartbeat(bus, lambda h: h.capacity.get("port_pairs_in_use") == 2, 10)
    assert loaded.load >= 2 / 16
    assert {"packets_per_second", "cpu", "sessions"} <= loaded.capacity.keys()

    deleted = await request_media(bus, "relay-proc", DeleteMedia(call_id="p1"))
    assert deleted.stats.a.packets == 100
    assert deleted.stats.a.lost == 0

    os.kill(relay_process.pid, signal.SIGTERM)
    assert await asyncio.to_thread(relay_process.wait, 15) == 0
