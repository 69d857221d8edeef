"""NAT keep-alives and lapsing bindings with the sweep driven by hand (no timer, no network):
who is pinged and how, an unanswered ping removing a binding, expiry."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from libs.bus.registrations import Registration
from services.sip_core.config import RegistrarSettings
from services.sip_core.registrar import BindingStore, BindingTable, Keepalive
from services.sip_core.sip import Peer, Request, TransactionLayer, parse_datagram
from services.sip_core.stack import SipStack
from tests.sip_core.registrar.test_registrar import CUSTOMER, NOW, policy, user


class Wire:
    """The stack's sender: records what would go out."""

    def __init__(self) -> None:
        self.sent: list[tuple[Peer, bytes]] = []

    def send(self, peer: Peer, data: bytes) -> bool:
        self.sent.append((peer, data))
        return True


def binding(user_id: uuid.UUID, username: str, port: int, node: str = "node-a") -> Registration:
    return Registration(
        sip_user_id=user_id, customer_id=CUSTOMER, username=username, realm="tandem",
        contact=f"sip:{username}@127.0.0.5:{port}", expires_at=NOW + timedelta(seconds=600),
        registered_at=NOW, call_id="c", cseq=1, transport="udp", source_host="127.0.0.5",
        source_port=port, target_host="127.0.0.5", target_port=port, nat=False, node_id=node,
    )  # fmt: skip


async def test_pings_follow_each_users_mode_and_unanswered_ones_remove_the_binding() -> None:
    ids = {name: uuid.uuid4() for name in ("crlf", "watched", "quiet")}
    live = policy(
        user("crlf", id=ids["crlf"], nat_ping="enabled"),
        user("watched", id=ids["watched"], nat_ping="enabled_timeout"),
        user("quiet", id=ids["quiet"], nat_ping="disabled"),
    )
    wire = Wire()
    stack = SipStack(TransactionLayer(), wire)
    table = BindingTable("node-a")
    store = BindingStore(None, table)  # type: ignore[arg-type]  # never started: no bus
    settings = RegistrarSettings(keepalive="crlf", ping_interval=60, ping_timeout=10)
    keepalive = Keepalive(
        stack, live, store, settings, local_host="127.0.0.1", local_port=5060,
        wall_clock=lambda: NOW,
    )  # fmt: skip
    start = asyncio.get_running_loop().time()
    table.put(binding(ids["crlf"], "crlf", 7001))
    table.put(binding(ids["watched"], "watched", 7002))
    table.put(binding(ids["quiet"], "quiet", 7003))
    table.put(binding(ids["watched"], "watched", 7004, node="node-b"))  # another node's to ping

    keepalive.sweep(start + 30, NOW)
    assert wire.sent == []  # nothing due yet
    keepalive.sweep(start + 61, NOW)
    by_port = {peer.port: data for peer, data in wire.sent}
    assert sorted(by_port) == [7001, 7002]
    assert by_port[7001] == b"\r\n\r\n"  # enabled + crlf: a keep-alive, no answer expected
    options = parse_datagram(by_port[7002])
    assert isinstance(options, Request)
    assert options.method == "OPTIONS"
    assert options.uri == "sip:watched@127.0.0.5:7002"
    assert keepalive.pending == 1

    keepalive.sweep(start + 72, NOW)  # the OPTIONS went unanswered for ping_timeout
    remaining = sorted(b.contact for b in table)
    assert remaining == [
        "sip:crlf@127.0.0.5:7001", "sip:quiet@127.0.0.5:7003", "sip:watched@127.0.0.5:7004",
    ]  # fmt: skip
    assert keepalive.pending == 0

    # Lapsed bindings go, this node's and other nodes' alike (from this node's view).
    keepalive.sweep(start + 73, NOW + timedelta(seconds=601))
    assert len(table) == 0
    stack.close()
