"""The stack and the B2BUA in one process, messages in and out without sockets.

What the sipp tests cannot see: the one event-loop timer wakes the transaction layer for every
deadline, a finished call leaves nothing behind for the cyclic garbage collector, and the UDP
socket gets the buffers it was configured with.
"""

from __future__ import annotations

import asyncio
import gc
import re
import socket
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from libs.bus.cdr import CallEnded
from libs.platform.natsd import free_port
from services.sip_core.b2bua.calls import B2BUA, Call
from services.sip_core.b2bua.policy import StaticRoutePolicy
from services.sip_core.config import SipSettings
from services.sip_core.sip import (
    ClientTransaction,
    Peer,
    Request,
    Response,
    ServerInviteTransaction,
    ServerTransaction,
    Timers,
    Transaction,
    TransactionLayer,
    new_branch,
    parse_datagram,
)
from services.sip_core.stack import SipStack
from services.sip_core.transport import SipListeners

CALLER = Peer("UDP", "127.0.0.1", 5061)
CARRIER = Peer("UDP", "127.0.0.1", 5090)
SDP = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"


class Wire:
    """The transports' stand-in: remembers what the stack sent where."""

    def __init__(self) -> None:
        self.sent: list[tuple[Peer, bytes]] = []

    def send(self, peer: Peer, data: bytes) -> bool:
        self.sent.append((peer, data))
        return True

    def take(self, peer: Peer, start: bytes) -> str:
        """The last message sent to ``peer`` that starts with ``start``."""
        found = [data for to, data in self.sent if to == peer and data.startswith(start)]
        assert found, f"nothing starting with {start!r} sent to {peer}"
        return found[-1].decode()


def header(message: str, name: str) -> str:
    match = re.search(rf"^{name}: ([^\r\n]*)", message, re.MULTILINE)
    assert match is not None, name
    return match.group(1)


def caller_request(method: str, cseq: int, branch: str, to_tag: str | None = None) -> bytes:
    """What sipp's built-in UAC sends."""
    to = "<sip:service@127.0.0.1:5060>" + (f";tag={to_tag}" if to_tag else "")
    body = SDP if method == "INVITE" else b""
    lines = [
        f"{method} sip:service@127.0.0.1:5060 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-{branch}",
        "From: sipp <sip:sipp@127.0.0.1:5061>;tag=caller1",
        f"To: {to}",
        "Call-ID: 1-state@127.0.0.1",
        f"CSeq: {cseq} {method}",
        "Contact: sip:sipp@127.0.0.1:5061",
        "Max-Forwards: 70",
        *(["Content-Type: application/sdp"] if body else []),
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def carrier_answer(request: str, status: str, to_tag: str) -> bytes:
    """What sipp's built-in UAS answers to ``request``."""
    to = header(request, "To")
    lines = [
        f"SIP/2.0 {status}",
        *re.findall(r"^Via: [^\r\n]*", request, re.MULTILINE),
        f"From: {header(request, 'From')}",
        f"To: {to if ';tag=' in to else f'{to};tag={to_tag}'}",
        f"Call-ID: {header(request, 'Call-ID')}",
        f"CSeq: {header(request, 'CSeq')}",
        "Contact: <sip:127.0.0.1:5090;transport=UDP>",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@contextmanager
def no_cycle_collector() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def test_a_finished_call_is_freed_as_soon_as_its_transactions_end() -> None:
    wire = Wire()
    stack = SipStack(TransactionLayer(), wire)
    cdrs: list[CallEnded] = []
    b2bua = B2BUA(
        stack, StaticRoutePolicy(CARRIER), local_host="127.0.0.1", local_port=5060,
        node_id="test", zone="test", cdr_sink=cdrs.append,
    )  # fmt: skip

    def receive(data: bytes, peer: Peer) -> None:
        stack.received(parse_datagram(data), peer)

    def calls_alive() -> int:
        return sum(1 for o in gc.get_objects() if isinstance(o, Call))

    gc.collect()
    with no_cycle_collector():
        receive(caller_request("INVITE", 1, "1"), CALLER)
        (call,) = b2bua.calls
        txns = [weakref.ref(t) for t in (call.a_txn, call.b_txn) if t is not None]
        assert len(txns) == 2
        del call
        invite = wire.take(CARRIER, b"INVITE")
        receive(carrier_answer(invite, "180 Ringing", "carrier1"), CARRIER)
        receive(carrier_answer(invite, "200 OK", "carrier1"), CARRIER)
        to_tag = header(wire.take(CALLER, b"SIP/2.0 200"), "To").split("tag=")[1]
        receive(caller_request("ACK", 1, "2", to_tag), CALLER)
        receive(caller_request("BYE", 2, "3", to_tag), CALLER)
        receive(carrier_answer(wire.take(CARRIER, b"BYE"), "200 OK", "carrier1"), CARRIER)
        assert len(cdrs) == 1
        assert not b2bua.calls
        assert calls_alive() == 1  # its transactions still absorb retransmissions (64·T1)
        stack.layer.handle_timer(stack.now() + 64 * 0.5 + 1)
        stack.pump()
        assert stack.layer.live_transactions == 0
        # Freed by reference counting alone: no cycle keeps the call, its transactions or
        # their messages waiting for a collection (whose pause grows with every live call).
        assert calls_alive() == 0
        assert all(txn() is None for txn in txns)
        assert gc.collect() == 0


class Recorder:
    """A transaction user that only takes notes."""

    def __init__(self) -> None:
        self.responses: list[int] = []
        self.timeouts: list[str] = []

    def on_request(
        self, request: Request, peer: Peer, transaction: ServerTransaction | None
    ) -> None:
        pass

    def on_response(self, response: Response, transaction: ClientTransaction) -> None:
        self.responses.append(response.status_code)

    def on_cancel(self, request: Request, transaction: ServerInviteTransaction) -> None:
        pass

    def on_timeout(self, transaction: Transaction, timer: str) -> None:
        self.timeouts.append(timer)

    def on_transport_failure(self, transaction: Transaction) -> None:
        pass


def options(branch: str) -> Request:
    return Request(
        "OPTIONS",
        "sip:peer@127.0.0.1:5999",
        [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:5060;branch={branch}"),
            ("Max-Forwards", "70"),
            ("From", "<sip:node@127.0.0.1>;tag=n1"),
            ("To", "<sip:peer@127.0.0.1:5999>"),
            ("Call-ID", f"{branch}@127.0.0.1"),
            ("CSeq", "1 OPTIONS"),
        ],
    )


async def test_the_loop_timer_wakes_the_layer_for_every_deadline() -> None:
    wire = Wire()
    # T1 = 20 ms: Timer E fires at 20, 60, 140 ms…, Timer F (64·T1) at 1.28 s, Timer K at T4.
    layer = TransactionLayer(Timers(t1=0.02, t2=0.08, t4=0.1))
    stack = SipStack(layer, wire)
    tu = Recorder()
    stack.tu = tu
    peer = Peer("UDP", "127.0.0.1", 5999)
    unanswered = options(new_branch())
    layer.send_request(unanswered, peer, stack.now())
    stack.pump()
    answered = options(new_branch())
    layer.send_request(answered, peer, stack.now())
    stack.pump()
    await asyncio.sleep(0.1)
    assert sum(1 for _, data in wire.sent if unanswered.call_id.encode() in data) >= 3
    # The answer moves that transaction's deadline from its next retransmission to Timer K.
    ok = parse_datagram(carrier_answer(bytes(answered).decode(), "200 OK", "p1"))
    stack.received(ok, peer)
    assert tu.responses == [200]
    await asyncio.sleep(0.3)
    assert layer.live_transactions == 1  # Timer K ended the answered one
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3
    while not tu.timeouts:
        assert loop.time() < deadline, "Timer F never fired"
        await asyncio.sleep(0.05)
    assert tu.timeouts == ["F"]
    assert layer.live_transactions == 0


async def test_the_udp_socket_gets_the_configured_buffers(tmp_path: Path) -> None:
    wanted = 1024 * 1024
    cap = int(Path("/proc/sys/net/core/rmem_max").read_text())
    stack = SipStack(TransactionLayer())
    listeners = SipListeners(
        stack.received,
        SipSettings(host="127.0.0.1", udp_port=free_port(), tcp_port=0, udp_socket_buffer=wanted),
    )
    await listeners.start()
    try:
        assert listeners._udp_transport is not None
        sock = listeners._udp_transport.get_extra_info("socket")
        # Linux reports twice what was set (its bookkeeping), capped by net.core.rmem_max.
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= min(wanted, cap)
    finally:
        await listeners.stop()
        stack.close()
