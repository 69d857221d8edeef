"""Calls through the B2BUA with real SIP peers: sipp as the caller and as carriers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from libs.bus.cdr import CallEnded, ReleasedBy, ReleaseReason
from libs.platform.natsd import free_port
from services.sip_core.b2bua.calls import B2BUA
from services.sip_core.b2bua.policy import Admission, Refusal, Target
from services.sip_core.config import SipSettings
from services.sip_core.sip import Peer, Request, TransactionLayer
from services.sip_core.stack import SipStack
from services.sip_core.transport import SipListeners
from tests.sip_core.sipp import scenario, start_sipp

pytestmark = pytest.mark.slow


class Targets:
    """A test policy: every call to these carrier ports, in order."""

    def __init__(self, *ports: int, first_reply_timeout: float = 5.0) -> None:
        self.targets = [
            Target(
                Peer("UDP", "127.0.0.1", port),
                f"sip:service@127.0.0.1:{port}",
                first_reply_timeout=first_reply_timeout,
            )
            for port in ports
        ]
        self.admitted = 0
        self.released = 0

    def admit(self, request: Request, source: Peer) -> Admission | Refusal:
        self.admitted += 1
        return Admission(targets=list(self.targets), caller="sipp", callee="service")

    def release(self, admission: Admission) -> None:
        self.released += 1


@asynccontextmanager
async def sip_node(policy: Targets) -> AsyncIterator[tuple[B2BUA, int, list[CallEnded]]]:
    stack = SipStack(TransactionLayer())
    port = free_port()
    listeners = SipListeners(
        stack.received, SipSettings(host="127.0.0.1", udp_port=port, tcp_port=0, tls_port=0)
    )
    stack.sender = listeners
    await listeners.start()
    cdrs: list[CallEnded] = []
    b2bua = B2BUA(
        stack,
        policy,
        local_host="127.0.0.1",
        local_port=port,
        node_id="test-node",
        zone="test",
        cdr_sink=cdrs.append,
    )
    try:
        yield b2bua, port, cdrs
    finally:
        await listeners.stop()
        stack.close()


async def until(predicate: object, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_calls_are_bridged_and_each_leaves_one_cdr(tmp_path: Path) -> None:
    carrier = free_port()
    policy = Targets(carrier)
    async with sip_node(policy) as (b2bua, port, cdrs):
        uas = await start_sipp("-sn", "uas", "-m", "3", port=carrier, cwd=tmp_path)
        uac = await start_sipp(
            "-sn", "uac", f"127.0.0.1:{port}", "-s", "4930123456", "-m", "3", "-r", "3",
            "-d", "500", port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        uac_rc, uac_out = await uac.finish()
        uas_rc, uas_out = await uas.finish()
        assert uac_rc == 0, uac_out
        assert uas_rc == 0, uas_out
        await until(lambda: len(cdrs) == 3)

    assert policy.admitted == policy.released == 3
    assert not b2bua.calls
    for cdr in cdrs:
        assert cdr.answered_at is not None
        assert cdr.release_reason is ReleaseReason.NORMAL
        assert cdr.released_by is ReleasedBy.CALLER  # sipp's uac hangs up
        assert cdr.sip_code == 200
        assert cdr.callee_received == "4930123456"
        assert 400 <= cdr.duration_ms <= 5000
        assert [a.sip_code for a in cdr.attempts] == [200]
    assert len({cdr.call_id for cdr in cdrs}) == 3


async def test_a_failing_carrier_fails_over_to_the_next(tmp_path: Path) -> None:
    broken, working = free_port(), free_port()
    async with sip_node(Targets(broken, working)) as (_, port, cdrs):
        refuser = await start_sipp(
            "-sf", str(scenario("uas_reject", tmp_path, code=503)), "-m", "1",
            port=broken, cwd=tmp_path,
        )  # fmt: skip
        answerer = await start_sipp("-sn", "uas", "-m", "1", port=working, cwd=tmp_path)
        uac = await start_sipp(
            "-sn", "uac", f"127.0.0.1:{port}", "-m", "1", "-d", "200",
            port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, refuser, answerer):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(cdrs) == 1)

    (cdr,) = cdrs
    assert [a.sip_code for a in cdr.attempts] == [503, 200]
    assert [a.gateway for a in cdr.attempts] == [f"127.0.0.1:{broken}", f"127.0.0.1:{working}"]
    assert cdr.answered_at is not None


async def test_a_stop_code_ends_routing_and_reaches_the_caller(tmp_path: Path) -> None:
    busy, never_tried = free_port(), free_port()
    async with sip_node(Targets(busy, never_tried)) as (_, port, cdrs):
        refuser = await start_sipp(
            "-sf", str(scenario("uas_reject", tmp_path, code=486)), "-m", "1",
            port=busy, cwd=tmp_path,
        )  # fmt: skip
        uac = await start_sipp(
            "-sf", str(scenario("uac_expect_failure", tmp_path, code=486)),
            f"127.0.0.1:{port}", "-m", "1", port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, refuser):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(cdrs) == 1)

    (cdr,) = cdrs
    assert cdr.sip_code == 486
    assert cdr.release_reason is ReleaseReason.REJECTED
    assert [a.sip_code for a in cdr.attempts] == [486]


async def test_the_caller_cancels_while_the_carrier_rings(tmp_path: Path) -> None:
    carrier = free_port()
    async with sip_node(Targets(carrier)) as (_, port, cdrs):
        ringer = await start_sipp(
            "-sf", str(scenario("uas_ring_forever", tmp_path)), "-m", "1",
            port=carrier, cwd=tmp_path,
        )  # fmt: skip
        uac = await start_sipp(
            "-sf", str(scenario("uac_cancel", tmp_path)), f"127.0.0.1:{port}", "-m", "1",
            port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, ringer):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(cdrs) == 1)

    (cdr,) = cdrs
    assert cdr.release_reason is ReleaseReason.CANCELLED
    assert cdr.released_by is ReleasedBy.CALLER
    assert cdr.sip_code == 487
    assert cdr.answered_at is None


async def test_a_silent_carrier_is_skipped_after_the_first_reply_timeout(tmp_path: Path) -> None:
    silent, working = free_port(), free_port()
    async with sip_node(Targets(silent, working, first_reply_timeout=1.0)) as (_, port, cdrs):
        answerer = await start_sipp("-sn", "uas", "-m", "1", port=working, cwd=tmp_path)
        uac = await start_sipp(
            "-sn", "uac", f"127.0.0.1:{port}", "-m", "1", "-d", "200",
            port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, answerer):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(cdrs) == 1)

    (cdr,) = cdrs
    assert [a.sip_code for a in cdr.attempts] == [None, 200]
    assert cdr.attempts[0].reason == "no reply"
    assert cdr.answered_at is not None
