"""Calls over TCP and TLS, over lossy UDP, and the carrier timeouts, with sipp as real peers."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from libs.bus.cdr import CallEnded, ReleasedBy, ReleaseReason
from libs.platform.devcert import generate_dev_certificate
from libs.platform.natsd import free_port
from services.sip_core.b2bua.calls import B2BUA
from services.sip_core.b2bua.policy import Admission, Refusal, Target
from services.sip_core.config import SipSettings
from services.sip_core.sip import Peer, Request, Timers, TransactionLayer
from services.sip_core.stack import SipStack
from services.sip_core.transport import SipListeners
from tests.sip_core.sipp import scenario, start_sipp
from tests.sip_core.test_b2bua_calls import until
from tests.sip_core.tlsrelay import TlsRelay

pytestmark = pytest.mark.slow


class Targets:
    """A test policy: every call to these carriers, in order."""

    def __init__(self, *peers: Peer, customer_id: uuid.UUID | None = None, **options: Any) -> None:
        self.customer_id = customer_id
        self.targets = [
            Target(peer, f"sip:service@{peer.host}:{peer.port}", **options) for peer in peers
        ]
        self.admitted = 0
        self.released = 0

    def admit(self, request: Request, source: Peer) -> Admission | Refusal:
        self.admitted += 1
        return Admission(
            targets=list(self.targets),
            caller="sipp",
            callee="service",
            customer_id=self.customer_id,
        )

    def release(self, admission: Admission) -> None:
        self.released += 1


@dataclass
class Node:
    b2bua: B2BUA
    listeners: SipListeners
    cdrs: list[CallEnded]

    def port(self, transport: str) -> int:
        return self.listeners.bound[transport][1]


@asynccontextmanager
async def sip_node(
    policy: Targets, *, ping_interval: float = 0.0, t1: float = 0.5, **settings: Any
) -> AsyncIterator[Node]:
    stack = SipStack(TransactionLayer(Timers(t1=t1, t2=max(4.0, t1))))
    options: dict[str, Any] = {"host": "127.0.0.1", "udp_port": free_port(), "tcp_port": 0}
    options.update(settings)
    listeners = SipListeners(
        stack.received, SipSettings(**options), on_failure=stack.peer_unreachable
    )
    stack.sender = listeners
    await listeners.start()
    cdrs: list[CallEnded] = []
    b2bua = B2BUA(
        stack,
        policy,
        local_host="127.0.0.1",
        local_port=listeners.bound["udp"][1],
        node_id="test-node",
        zone="test",
        cdr_sink=cdrs.append,
        local_ports={name.upper(): port for name, (_, port) in listeners.bound.items()},
        ping_interval=ping_interval,
    )
    try:
        yield Node(b2bua, listeners, cdrs)
    finally:
        await listeners.stop()
        stack.close()


def certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    generate_dev_certificate(cert, key, hosts=("localhost", "127.0.0.1"))
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_a_call_over_tcp_on_both_legs_reuses_one_carrier_connection(
    tmp_path: Path,
) -> None:
    carrier = free_port()
    policy = Targets(Peer("TCP", "127.0.0.1", carrier))
    async with sip_node(policy, tcp_port=free_port()) as node:
        uas = await start_sipp("-sn", "uas", "-t", "t1", "-m", "3", port=carrier, cwd=tmp_path)
        uac = await start_sipp(
            "-sn", "uac", f"127.0.0.1:{node.port('tcp')}", "-t", "t1", "-s", "4930123456",
            "-m", "3", "-r", "3", "-d", "300", port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, uas):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(node.cdrs) == 3)
        tcp = node.listeners._streams["TCP"]
        assert tcp.connected == 1  # the three calls to the carrier shared one connection
        assert tcp.accepted == 1  # sipp's t1: one connection for its calls

    assert policy.admitted == policy.released == 3
    for cdr in node.cdrs:
        assert cdr.release_reason is ReleaseReason.NORMAL
        assert cdr.released_by is ReleasedBy.CALLER
        assert [a.sip_code for a in cdr.attempts] == [200]


async def test_a_call_over_tls_on_both_legs_with_verified_certificates(tmp_path: Path) -> None:
    node_cert, node_key = certificate(tmp_path, "node")
    carrier_cert, carrier_key = certificate(tmp_path, "carrier")
    carrier_tcp, carrier_tls, caller_in = free_port(), free_port(), free_port()
    policy = Targets(Peer("TLS", "127.0.0.1", carrier_tls))
    async with sip_node(
        policy,
        tls_port=free_port(),
        tls_cert_file=node_cert,
        tls_key_file=node_key,
        tls_ca_file=carrier_cert,  # the carrier's certificate is verified against this
    ) as node:
        caller_side = ssl.create_default_context(cafile=str(node_cert))
        async with (
            TlsRelay(carrier_tls, carrier_tcp, server=server_context(carrier_cert, carrier_key)),
            TlsRelay(caller_in, node.port("tls"), client=caller_side) as caller_relay,
        ):
            uas = await start_sipp(
                "-sn", "uas", "-t", "t1", "-m", "2", port=carrier_tcp, cwd=tmp_path
            )
            uac = await start_sipp(
                "-sn", "uac", f"127.0.0.1:{caller_in}", "-t", "t1", "-m", "2", "-r", "2",
                "-d", "300", port=free_port(), cwd=tmp_path,
            )  # fmt: skip
            for peer in (uac, uas):
                rc, out = await peer.finish()
                assert rc == 0, out
            await until(lambda: len(node.cdrs) == 2)
            assert caller_relay.accepted == 1
            assert node.listeners._streams["TLS"].connected == 1

    for cdr in node.cdrs:
        assert cdr.release_reason is ReleaseReason.NORMAL
        assert [a.sip_code for a in cdr.attempts] == [200]
        assert cdr.attempts[0].gateway == f"127.0.0.1:{carrier_tls}"


async def test_an_untrusted_tls_carrier_is_skipped_for_the_next(tmp_path: Path) -> None:
    trusted, _ = certificate(tmp_path, "trusted")
    rogue_cert, rogue_key = certificate(tmp_path, "rogue")
    rogue_tls, rogue_tcp, working = free_port(), free_port(), free_port()
    policy = Targets(Peer("TLS", "127.0.0.1", rogue_tls), Peer("UDP", "127.0.0.1", working))
    async with (
        sip_node(policy, tls_ca_file=trusted) as node,
        TlsRelay(rogue_tls, rogue_tcp, server=server_context(rogue_cert, rogue_key)),
    ):
        answerer = await start_sipp("-sn", "uas", "-m", "1", port=working, cwd=tmp_path)
        uac = await start_sipp(
            "-sn", "uac", f"127.0.0.1:{node.port('udp')}", "-m", "1", "-d", "200",
            port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, answerer):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(node.cdrs) == 1)

    (cdr,) = node.cdrs
    assert [a.sip_code for a in cdr.attempts] == [None, 200]
    assert cdr.attempts[0].reason == "unreachable"
    assert cdr.answered_at is not None


async def test_a_refused_tcp_connection_fails_over_at_once(tmp_path: Path) -> None:
    closed, working = free_port(), free_port()
    policy = Targets(
        Peer("TCP", "127.0.0.1", closed),
        Peer("UDP", "127.0.0.1", working),
        first_reply_timeout=30.0,  # the failover must not wait for it
    )
    async with sip_node(policy) as node:
        answerer = await start_sipp("-sn", "uas", "-m", "1", port=working, cwd=tmp_path)
        uac = await start_sipp(
            "-sn", "uac", f"127.0.0.1:{node.port('udp')}", "-m", "1", "-d", "200",
            port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, answerer):
            rc, out = await peer.finish(within=20)
            assert rc == 0, out
        await until(lambda: len(node.cdrs) == 1)

    (cdr,) = node.cdrs
    assert [a.sip_code for a in cdr.attempts] == [None, 200]
    assert cdr.attempts[0].reason == "unreachable"


async def test_calls_complete_over_lossy_udp_without_duplicates(tmp_path: Path) -> None:
    carrier = free_port()
    calls = 10
    policy = Targets(Peer("UDP", "127.0.0.1", carrier))
    async with sip_node(policy) as node:
        uas = await start_sipp(
            "-sn", "uas", "-lost", "10", "-m", str(calls), port=carrier, cwd=tmp_path
        )
        uac = await start_sipp(
            "-sn", "uac", f"127.0.0.1:{node.port('udp')}", "-lost", "10", "-m", str(calls),
            "-r", "5", "-d", "200", port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        uac_rc, uac_out = await uac.finish(within=60)
        uas_rc, uas_out = await uas.finish(within=60)
        assert uac_rc == 0, uac_out
        assert uas_rc == 0, uas_out
        await until(lambda: len(node.cdrs) == calls, within=40)

    assert policy.admitted == policy.released == calls  # retransmitted INVITEs absorbed
    assert len({cdr.sip_call_id for cdr in node.cdrs}) == calls
    for cdr in node.cdrs:
        assert cdr.answered_at is not None
        assert cdr.release_reason is ReleaseReason.NORMAL
        assert [a.sip_code for a in cdr.attempts] == [200]


async def test_a_carrier_ringing_too_long_is_cancelled_for_the_next(tmp_path: Path) -> None:
    ringing, working = free_port(), free_port()
    policy = Targets(
        Peer("UDP", "127.0.0.1", ringing), Peer("UDP", "127.0.0.1", working), ring_timeout=1.0
    )
    async with sip_node(policy) as node:
        ringer = await start_sipp(
            "-sf", str(scenario("uas_ring_forever", tmp_path)), "-m", "1",
            port=ringing, cwd=tmp_path,
        )  # fmt: skip
        answerer = await start_sipp("-sn", "uas", "-m", "1", port=working, cwd=tmp_path)
        uac = await start_sipp(
            "-sn", "uac", f"127.0.0.1:{node.port('udp')}", "-m", "1", "-d", "200",
            port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (uac, ringer, answerer):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(node.cdrs) == 1)

    (cdr,) = node.cdrs
    assert [a.sip_code for a in cdr.attempts] == [None, 200]
    assert cdr.attempts[0].reason == "ring timeout"
    assert cdr.answered_at is not None


@pytest.mark.parametrize("code", [481, 408])
async def test_a_carrier_that_forgot_the_call_is_found_by_pings(tmp_path: Path, code: int) -> None:
    carrier = free_port()
    async with sip_node(Targets(Peer("UDP", "127.0.0.1", carrier)), ping_interval=0.5) as node:
        forgetful = await start_sipp(
            "-sf", str(scenario("uas_forget_dialog", tmp_path, code=code)), "-m", "1",
            port=carrier, cwd=tmp_path,
        )  # fmt: skip
        caller = await start_sipp(
            "-sf", str(scenario("uac_until_bye", tmp_path)), f"127.0.0.1:{node.port('udp')}",
            "-aa", "-m", "1", port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (caller, forgetful):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(node.cdrs) == 1)

    (cdr,) = node.cdrs
    assert cdr.release_reason is ReleaseReason.PEER_UNREACHABLE
    assert cdr.released_by is ReleasedBy.SWITCH
    assert cdr.answered_at is not None


async def test_a_carrier_gone_silent_is_found_by_unanswered_pings(tmp_path: Path) -> None:
    carrier = free_port()
    # T1 = 50 ms: an unanswered OPTIONS times out (Timer F = 64·T1) in 3.2 s, not 32 s.
    policy = Targets(Peer("UDP", "127.0.0.1", carrier))
    async with sip_node(policy, ping_interval=0.5, t1=0.05) as node:
        vanishing = await start_sipp(
            "-sf", str(scenario("uas_answer_then_vanish", tmp_path)), "-m", "1",
            port=carrier, cwd=tmp_path,
        )  # fmt: skip
        caller = await start_sipp(
            "-sf", str(scenario("uac_until_bye", tmp_path)), f"127.0.0.1:{node.port('udp')}",
            "-aa", "-m", "1", port=free_port(), cwd=tmp_path,
        )  # fmt: skip
        for peer in (vanishing, caller):
            rc, out = await peer.finish()
            assert rc == 0, out
        await until(lambda: len(node.cdrs) == 1)

    (cdr,) = node.cdrs
    assert cdr.release_reason is ReleaseReason.PEER_UNREACHABLE
    assert cdr.answered_at is not None
