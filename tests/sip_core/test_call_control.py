"""Live calls over NATS: a sip_core node lists its calls and hangs one up on request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from libs.bus import Bus
from libs.bus.assets import provision
from libs.bus.calls import gather_live_calls, hang_up_live_call
from libs.bus.cdr import ReleasedBy, ReleaseReason
from libs.bus.messages import NodeHeartbeat
from libs.bus.presence import PresencePublisher, presence_key
from libs.platform.natsd import NatsServer, free_port
from services.sip_core.control import CallControl
from services.sip_core.sip import Peer
from tests.sip_core.sipp import Sipp, scenario, start_sipp
from tests.sip_core.test_b2bua_calls import until
from tests.sip_core.test_edge_calls import Node, Targets, sip_node

pytestmark = pytest.mark.slow


@asynccontextmanager
async def announced_node(
    tmp_path: Path, customer_id: uuid.UUID
) -> AsyncIterator[tuple[Bus, Node, NatsServer]]:
    """A nats-server, and a sip_core node serving its live calls and announcing itself."""
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        bus = await Bus.connect(server.url, name="tests", request_timeout=2.0)
        try:
            await provision(bus.js)
            carrier = Peer("UDP", "127.0.0.1", free_port())
            async with sip_node(Targets(carrier, customer_id=customer_id)) as node:
                control = CallControl(node.b2bua)
                await control.start(bus)
                started = datetime.now(UTC)
                presence = PresencePublisher(
                    bus,
                    presence_key("sip_core", node.b2bua.node_id),
                    lambda: NodeHeartbeat(
                        node_id=node.b2bua.node_id,
                        role="sip_core",
                        zone="test",
                        version="test",
                        started_at=started,
                        sent_at=datetime.now(UTC),
                        load=0.0,
                    ),
                    interval=0.5,
                )
                presence.start()
                try:
                    yield bus, node, server
                finally:
                    await presence.stop()
                    await control.stop()
        finally:
            await bus.close()


async def ringing_call(tmp_path: Path, node: Node) -> tuple[Sipp, Sipp]:
    """A call that rings until the switch ends it (the caller then expects 503)."""
    carrier = node.b2bua.policy.targets[0].peer.port  # type: ignore[attr-defined]
    ringer = await start_sipp(
        "-sf", str(scenario("uas_ring_forever", tmp_path)), "-m", "1",
        port=carrier, cwd=tmp_path,
    )  # fmt: skip
    caller = await start_sipp(
        "-sf", str(scenario("uac_expect_failure", tmp_path, code=503)),
        f"127.0.0.1:{node.port('udp')}", "-m", "1", port=free_port(), cwd=tmp_path,
    )  # fmt: skip
    return ringer, caller


async def test_calls_are_listed_per_customer_and_hung_up_over_nats(tmp_path: Path) -> None:
    customer = uuid.uuid4()
    async with announced_node(tmp_path, customer) as (bus, node, _):
        ringer, caller = await ringing_call(tmp_path, node)
        await until(lambda: any(call.target for call in node.b2bua.calls))
        await until(
            lambda: all(call.phase.value == "early" for call in node.b2bua.calls), within=10
        )

        gathered = await gather_live_calls(bus)  # nodes found through presence
        assert gathered.unreachable == []
        (live,) = gathered.calls
        assert gathered.total == 1
        assert (live.customer_id, live.state, live.node_id) == (customer, "early", "test-node")
        assert live.gateway is not None
        assert live.caller == "sipp"

        assert (await gather_live_calls(bus, customer_id=uuid.uuid4())).calls == []
        assert (await gather_live_calls(bus, customer_id=customer)).total == 1

        # Another customer cannot end it; an unknown call is not found.
        assert (await hang_up_live_call(bus, live.call_id, customer_id=uuid.uuid4()))[0] is False
        assert (await hang_up_live_call(bus, "no-such-call"))[0] is False
        found, unreachable = await hang_up_live_call(bus, live.call_id, customer_id=customer)
        assert (found, unreachable) == (True, [])

        for peer in (caller, ringer):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(node.cdrs) == 1)
        assert (await gather_live_calls(bus)).calls == []

    (cdr,) = node.cdrs
    assert cdr.release_reason is ReleaseReason.OPERATOR_HANGUP
    assert cdr.released_by is ReleasedBy.SWITCH
    assert cdr.sip_code == 503


async def test_a_node_that_does_not_answer_is_named(tmp_path: Path) -> None:
    async with announced_node(tmp_path, uuid.uuid4()) as (bus, _, _):
        gathered = await gather_live_calls(bus, nodes=["test-node", "gone-node"], timeout=0.5)
        assert gathered.unreachable == ["gone-node"]
        assert gathered.calls == []
