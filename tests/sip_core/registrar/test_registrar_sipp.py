"""The registrar end to end: sipp phones register over loopback (several 127.0.0.x hosts) with
digest credentials to sip_core nodes sharing one nats-server; bindings reach the other node,
lapse, are dropped when NAT pings go unanswered; a carrier's call reaches a registered phone
through a node it did not register with; an operator's MESSAGE reaches the phone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from libs.bus.cdr import CallEnded
from libs.bus.registrations import (
    SIP_MESSAGE_SUBJECT,
    Registration,
    SendSipMessage,
    SipMessageSent,
    list_registrations,
)
from libs.liveconfig.models import IpAuthConfig, RewriteConfig, SipUserConfig
from libs.platform.natsd import free_port
from libs.security.digest import ha1
from services.sip_core.b2bua.calls import B2BUA
from services.sip_core.config import RegistrarSettings, SipSettings
from services.sip_core.policy import LivePolicy
from services.sip_core.registrar import RegistrarNode
from services.sip_core.sip import Response, TransactionLayer, parse_datagram
from services.sip_core.stack import SipStack
from services.sip_core.transport import SipListeners
from tests.sip_core.policy.world import World, bus, until
from tests.sip_core.sipp import Sipp, scenario, start_sipp

pytestmark = pytest.mark.slow

PASSWORD = "a long sip password"
PHONE_HOST = "127.0.0.5"
CARRIER_HOST = "127.0.0.3"
DID = "4420555"


@dataclass
class Node:
    b2bua: B2BUA
    policy: LivePolicy
    registrar: RegistrarNode
    port: int
    cdrs: list[CallEnded]


@asynccontextmanager
async def node(world: World, node_id: str, **settings: Any) -> AsyncIterator[Node]:
    """A sip_core node (B2BUA, live policy, registrar) on a free 127.0.0.1 port."""
    # sipp 3.6 reads the first challenge only and knows only MD5: offer MD5 first.
    policy = LivePolicy(
        world.connector, node_id=node_id, zone="test", digest_algorithms=("MD5", "SHA-256")
    )
    policy.start()
    stack = SipStack(TransactionLayer())
    port = free_port()
    listeners = SipListeners(
        stack.received, SipSettings(host="127.0.0.1", udp_port=port, tcp_port=0, tls_port=0)
    )
    stack.sender = listeners
    await listeners.start()
    cdrs: list[CallEnded] = []
    b2bua = B2BUA(
        stack, policy, local_host="127.0.0.1", local_port=port, node_id=node_id, zone="test",
        cdr_sink=cdrs.append,
    )  # fmt: skip
    registrar = RegistrarNode(
        b2bua, policy, world.connector, RegistrarSettings(**settings), node_id=node_id
    )
    registrar.start()
    try:
        await policy.wait_ready(15)
        await until(registrar.store.loaded.is_set)
        yield Node(b2bua, policy, registrar, port, cdrs)
    finally:
        await registrar.stop()
        await listeners.stop()
        stack.close()
        await policy.stop()


async def configure(world: World, *, nat_ping: str = "disabled", **user: Any) -> SipUserConfig:
    """A customer, its SIP user 1001 and a carrier whose DID 4420555 is that user."""
    entry = IpAuthConfig(
        id=uuid.uuid4(), owner="carrier", carrier_id=uuid.uuid4(), address=CARRIER_HOST,
        direction="ingress",
    )  # fmt: skip
    did = RewriteConfig(
        id=uuid.uuid4(), owner="ipauth", owner_id=entry.id, target="destination",
        kind="regex", match=f"^{DID}$", replacement="1001",
    )  # fmt: skip
    sip_user = SipUserConfig(
        id=uuid.uuid4(), customer_id=world.customer_id, username="1001", realm="tandem",
        ha1_md5=ha1("1001", "tandem", PASSWORD, "MD5"),
        ha1_sha256=ha1("1001", "tandem", PASSWORD, "SHA-256"), nat_ping=nat_ping, **user,
    )  # fmt: skip
    await world.put(world.customer(), world.balance("10"), entry, did, sip_user)
    return sip_user


async def register(
    tmp_path: Path, target: Node, contact_port: int, *, expires: int = 120, check: str = "200"
) -> Sipp:
    path = scenario(
        "register", tmp_path, user="1001", expires=expires, check=check,
        contact=f"sip:1001@{PHONE_HOST}:{contact_port}",
    )  # fmt: skip
    return await start_sipp(
        "-sf", str(path), f"127.0.0.1:{target.port}", "-m", "1", "-au", "1001", "-ap", PASSWORD,
        port=free_port(), cwd=tmp_path, host=PHONE_HOST,
    )  # fmt: skip


async def finish(*peers: Sipp) -> None:
    for peer in peers:
        rc, out = await peer.finish()
        assert rc == 0, out


def policy_ready(*nodes: Node) -> bool:
    return all(
        n.policy.snapshot is not None and n.policy.snapshot.lookup_user("1001", "tandem")
        for n in nodes
    )


async def test_register_with_digest_is_seen_by_every_node_and_lapses(tmp_path: Path) -> None:
    async with bus(tmp_path) as world:
        user = await configure(world)
        async with (
            node(world, "node-a", min_expires=1, sweep_interval=0.2) as a,
            node(world, "node-b", sweep_interval=0.2) as b,
        ):
            await until(lambda: policy_ready(a, b))
            phone = await register(tmp_path, a, 7000, expires=3, check="expires=[23]")
            await finish(phone)

            def seen(n: Node) -> bool:
                return bool(n.registrar.table.of_user(user.id, _now()))

            assert seen(a)
            await until(lambda: seen(b), within=5)
            (binding,) = b.registrar.table.of_user(user.id, _now())
            assert binding.node_id == "node-a"
            assert (binding.target_host, binding.target_port) == (PHONE_HOST, 7000)
            assert binding.user_agent == "sipp-registrar-test"
            listed = await list_registrations(
                world.connector.bus, customer_id=world.customer_id, sip_user_id=user.id
            )
            assert [r.contact for r in listed] == [f"sip:1001@{PHONE_HOST}:7000"]

            # Three seconds later the binding has lapsed everywhere, bucket included.
            await until(lambda: not seen(a) and not seen(b), within=8)
            assert not await list_registrations(world.connector.bus)


async def test_an_unanswered_nat_ping_removes_the_binding_an_answered_one_keeps_it(
    tmp_path: Path,
) -> None:
    alive, dead = free_port(), free_port()
    async with bus(tmp_path) as world:
        user = await configure(world, nat_ping="enabled_timeout")
        async with node(
            world, "node-a", ping_interval=0.5, ping_timeout=1.0, sweep_interval=0.1
        ) as a:
            await until(lambda: policy_ready(a))
            answering = await start_sipp(
                "-sf", str(scenario("uas_options", tmp_path)), "-m", "3",
                port=alive, cwd=tmp_path, host=PHONE_HOST,
            )  # fmt: skip
            await finish(await register(tmp_path, a, alive, expires=300))
            await finish(await register(tmp_path, a, dead, expires=300))
            assert len(a.registrar.table.of_user(user.id, _now())) == 2

            def contacts() -> list[str]:
                return [b.contact for b in a.registrar.table.of_user(user.id, _now())]

            await until(lambda: contacts() == [f"sip:1001@{PHONE_HOST}:{alive}"], within=10)
            await finish(answering)  # it answered three pings
            assert contacts() == [f"sip:1001@{PHONE_HOST}:{alive}"]
            await a.registrar.store.flush()
            listed = await list_registrations(world.connector.bus, sip_user_id=user.id)
            assert [r.contact for r in listed] == [f"sip:1001@{PHONE_HOST}:{alive}"]


async def test_a_carrier_call_reaches_the_registered_phone_through_another_node(
    tmp_path: Path,
) -> None:
    phone_port = free_port()
    async with bus(tmp_path) as world:
        user = await configure(world)
        async with node(world, "node-a") as a, node(world, "node-b") as b:
            await until(lambda: policy_ready(a, b))
            phone = await start_sipp(
                "-sn", "uas", "-m", "1", port=phone_port, cwd=tmp_path, host=PHONE_HOST
            )
            await finish(await register(tmp_path, a, phone_port))
            await until(lambda: bool(b.registrar.table.of_user(user.id, _now())))
            carrier = await start_sipp(
                "-sn", "uac", f"127.0.0.1:{b.port}", "-s", DID, "-m", "1", "-d", "300",
                port=free_port(), cwd=tmp_path, host=CARRIER_HOST,
            )  # fmt: skip
            await finish(carrier, phone)
            await until(lambda: len(b.cdrs) == 1)

    (cdr,) = b.cdrs
    assert cdr.answered_at is not None
    assert cdr.callee_received == DID
    assert cdr.callee_sent == "1001"
    assert cdr.customer_id == world.customer_id
    assert cdr.sip_user_id == user.id
    assert [a.gateway for a in cdr.attempts] == [f"{PHONE_HOST}:{phone_port}"]
    assert not a.cdrs


async def test_an_operator_message_reaches_the_phone(tmp_path: Path) -> None:
    phone_port = free_port()
    async with bus(tmp_path) as world:
        user = await configure(world)
        async with node(world, "node-a") as a:
            await until(lambda: policy_ready(a))
            bus_ = world.connector.bus
            nobody = await bus_.request(
                SIP_MESSAGE_SUBJECT, SendSipMessage(sip_user_id=user.id, body="hi"),
                SipMessageSent, timeout=10,
            )  # fmt: skip
            assert nobody.error == "not_registered"
            assert not nobody.delivered

            phone = await start_sipp(
                "-sf", str(scenario("uas_message", tmp_path, text="maintenance at 22:00")),
                "-m", "1", port=phone_port, cwd=tmp_path, host=PHONE_HOST,
            )  # fmt: skip
            await finish(await register(tmp_path, a, phone_port))
            sent = await bus_.request(
                SIP_MESSAGE_SUBJECT,
                SendSipMessage(sip_user_id=user.id, body="Planned maintenance at 22:00"),
                SipMessageSent, timeout=10,
            )  # fmt: skip
            await finish(phone)
    assert sent.delivered
    assert [(r.contact, r.status) for r in sent.results] == [
        (f"sip:1001@{PHONE_HOST}:{phone_port}", 200)
    ]
    assert sent.node_id == "node-a"


def _now() -> datetime:
    return datetime.now(UTC)


async def test_nodes_follow_each_others_writes_of_one_binding(tmp_path: Path) -> None:
    """A phone moving to another node hands the binding over; an unregister there removes it
    here; registering here again brings it back everywhere (revisions, not arrival, decide)."""
    async with bus(tmp_path) as world:
        user = await configure(world)
        async with node(world, "node-a") as a, node(world, "node-b") as b:
            now = _now()
            mine = Registration(
                sip_user_id=user.id, customer_id=world.customer_id, username="1001",
                realm="tandem", contact="sip:1001@127.0.0.5:7000",
                expires_at=now + timedelta(seconds=300), registered_at=now, call_id="c1",
                cseq=1, transport="udp", source_host=PHONE_HOST, source_port=7000,
                target_host=PHONE_HOST, target_port=7000, nat=False, node_id="node-a",
            )  # fmt: skip

            def owner(n: Node) -> str | None:
                found = n.registrar.table.get(mine.key)
                return None if found is None else found.node_id

            a.registrar.store.save(mine)
            await until(lambda: owner(b) == "node-a", within=5)
            b.registrar.store.save(mine.model_copy(update={"node_id": "node-b", "cseq": 2}))
            await until(lambda: owner(a) == "node-b", within=5)
            b.registrar.store.drop(mine.key)
            await until(lambda: owner(a) is None, within=5)
            a.registrar.store.save(mine.model_copy(update={"cseq": 3}))
            await until(lambda: owner(b) == "node-a", within=5)
            await a.registrar.store.flush()
            await b.registrar.store.flush()
            assert owner(a) == owner(b) == "node-a"


class _Answers(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait(data)


def _request(method: str, host: str, port: int, target: int) -> bytes:
    return (
        f"{method} sip:1001@127.0.0.1:{target} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
        f"From: <sip:1001@{host}>;tag={uuid.uuid4().hex[:8]}\r\n"
        f"To: <sip:1001@127.0.0.1>\r\nCall-ID: {uuid.uuid4().hex}\r\n"
        f"CSeq: 1 {method}\r\nMax-Forwards: 70\r\nContact: <sip:1001@{host}:{port}>\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def test_allow_lists_register_with_the_registrar_and_only_what_the_node_accepts(
    tmp_path: Path,
) -> None:
    """OPTIONS, a 405 and REGISTER's 200 carry one Allow: the base methods and REGISTER. An
    out-of-dialog MESSAGE is answered 405 (MESSAGEs are relayed inside dialogs and sent by
    operators, not taken from phones), so it is not listed; every listed method is not 405."""
    expected = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REGISTER"
    async with bus(tmp_path) as world:
        await configure(world)
        async with node(world, "node-a") as a:
            await until(lambda: policy_ready(a))
            assert a.b2bua.allow == expected
            loop = asyncio.get_running_loop()
            transport, answers = await loop.create_datagram_endpoint(
                _Answers, local_addr=(PHONE_HOST, 0)
            )
            try:
                port = int(transport.get_extra_info("sockname")[1])

                async def ask(method: str) -> Response:
                    transport.sendto(
                        _request(method, PHONE_HOST, port, a.port), ("127.0.0.1", a.port)
                    )
                    answer = parse_datagram(await asyncio.wait_for(answers.received.get(), 10))
                    assert isinstance(answer, Response), answer
                    return answer

                options = await ask("OPTIONS")
                assert (options.status_code, options.headers.get("Allow")) == (200, expected)
                message = await ask("MESSAGE")
                assert (message.status_code, message.headers.get("Allow")) == (405, expected)
                for method in ("OPTIONS", "REGISTER"):
                    assert (await ask(method)).status_code != 405, method
            finally:
                transport.close()
            # REGISTER's 200 (digest through sipp) lists the same methods.
            phone = await register(tmp_path, a, 7002, check=f"Allow: {expected}[^,]")
            await finish(phone)
