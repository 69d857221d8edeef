"""The parts of a switch for end-to-end tests, each the real one.

- :class:`Operator`: configuration made through switch_api's HTTP API, as an operator would;
- :func:`plant`: a nats-server of the test's own (``port=0``) with the streams and buckets, and
  :meth:`Plant.publish` running :func:`libs.liveconfig.snapshot.reconcile_database` — what
  ``tandem config publish`` and switch_api's start-up do — so nodes read what the database holds;
- :func:`sip_core`: a B2BUA with a :class:`~services.sip_core.policy.LivePolicy` on a loopback
  port, its CDRs sent to the CDR stream by the node's :class:`~services.sip_core.cdr.CdrSender`;
- :func:`billing`: the billing worker consuming the CDR stream into the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import REGISTRY

from libs.billing.worker import BillingWorker
from libs.bus import BusConnector, provision
from libs.bus.cdr import CallEnded
from libs.db import Database
from libs.liveconfig import ConfigPublisher
from libs.liveconfig.publisher import ReconcileReport
from libs.liveconfig.snapshot import reconcile_database
from libs.platform.natsd import NatsServer, free_port
from services.sip_core.b2bua.calls import B2BUA
from services.sip_core.cdr import CdrSender, CdrSpool
from services.sip_core.config import SipSettings
from services.sip_core.policy import LivePolicy
from services.sip_core.sip import TransactionLayer
from services.sip_core.stack import SipStack
from services.sip_core.transport import SipListeners
from tests.sip_core.sipp import Sipp, scenario, start_sipp


async def eventually(predicate: Callable[[], object], within: float = 30.0) -> Any:
    """The first truthy value of ``predicate`` (a function or coroutine function), polled."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _created(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@dataclass
class Operator:
    """switch_api as the operator uses it to set a customer and its carriers up."""

    api: httpx.AsyncClient

    async def rate_card(
        self,
        direction: str,
        rates: dict[str, str],
        *,
        increments: tuple[int, int] = (60, 60),
    ) -> str:
        """A card with ``{prefix: rate}`` in a revision activated now; its id."""
        initial, subsequent = increments
        card = await _created(
            self.api,
            "/v1/rate-cards",
            {
                "name": f"{direction} {uuid.uuid4().hex[:8]}", "direction": direction,
                "currency": "EUR", "precision": 4, "rounding": "half_up",
                "default_initial": initial, "default_subsequent": subsequent,
            },
        )  # fmt: skip
        revision = await _created(
            self.api, f"/v1/rate-cards/{card['id']}/revisions", {"name": "current"}
        )
        base = f"/v1/rate-cards/{card['id']}/revisions/{revision['id']}"
        for prefix, rate in rates.items():
            put = await self.api.put(
                f"{base}/rates/{prefix}", json={"destination": f"dest {prefix}", "rate": rate}
            )
            assert put.status_code in (200, 201), put.text
        activated = await self.api.post(f"{base}/activate")
        assert activated.status_code == 200, activated.text
        return str(card["id"])

    async def customer(self, *, payment: str, **fields: Any) -> str:
        """A customer calling from 127.0.0.1 (IP authentication) with ``payment`` paid in."""
        customer = await _created(
            self.api,
            "/v1/customers",
            {"name": f"Customer {uuid.uuid4().hex[:8]}", "currency": "EUR", **fields},
        )
        await _created(
            self.api,
            "/v1/ip-auth",
            {"customer_id": customer["id"], "address": "127.0.0.1", "direction": "ingress"},
        )
        await _created(
            self.api,
            f"/v1/customers/{customer['id']}/payments",
            {"amount": payment, "reference": "e2e prepayment"},
        )
        return str(customer["id"])

    async def carrier(self, port: int, prefix: str, buy: str) -> str:
        """A carrier with one gateway at 127.0.0.1:``port``, buying ``prefix`` at ``buy``."""
        card_id = await self.rate_card("buy", {prefix: buy})
        carrier = await _created(
            self.api,
            "/v1/carriers",
            {"name": f"carrier {buy}", "rate_card_id": card_id},
        )
        await _created(
            self.api,
            "/v1/ip-auth",
            {
                "carrier_id": carrier["id"], "address": "127.0.0.1", "direction": "egress",
                "port": port,
            },
        )  # fmt: skip
        return str(carrier["id"])

    async def route(self, customer_id: str, sell_card_id: str, carrier_ids: list[str]) -> str:
        route = await _created(
            self.api,
            "/v1/routes",
            {
                "customer_id": customer_id, "name": "e2e", "rate_card_id": sell_card_id,
                "strategy": "least_cost",
                "carriers": [{"carrier_id": c} for c in carrier_ids],
            },
        )  # fmt: skip
        return str(route["id"])


@dataclass
class Plant:
    server: NatsServer
    connector: BusConnector
    database: Database

    async def publish(self) -> ReconcileReport:
        """The database's configuration into NATS, as ``tandem config publish`` does it."""
        return await reconcile_database(self.database, ConfigPublisher(self.connector))


@contextlib.asynccontextmanager
async def plant(tmp_path: Path, database: Database) -> AsyncIterator[Plant]:
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        connector = BusConnector(server.url, name="e2e-test")
        connector.start()
        try:
            await provision((await connector.wait_connected(15)).js)
            yield Plant(server, connector, database)
        finally:
            await connector.close()


@dataclass
class SipNode:
    policy: LivePolicy
    b2bua: B2BUA
    port: int
    cdrs: list[CallEnded] = field(default_factory=list)


def dropped(reason: str) -> float:
    """SIP messages sip_core's transports dropped for ``reason`` so far (this process)."""
    return REGISTRY.get_sample_value("tandem_sip_dropped_total", {"reason": reason}) or 0.0


@contextlib.asynccontextmanager
async def sip_core(connector: BusConnector, spool: Path) -> AsyncIterator[SipNode]:
    """sip_core's call path in process, wired as ``services.sip_core.__main__`` wires it: the
    live policy, the B2BUA on a free loopback UDP port, CDRs to the CDR stream (and kept in
    :attr:`SipNode.cdrs` for the test). Every SIP message the peers sent must parse."""
    malformed = dropped("malformed")
    policy = LivePolicy(connector, node_id="e2e-node", zone="e2e")
    policy.start()
    stack = SipStack(TransactionLayer())
    port = free_port()
    listeners = SipListeners(
        stack.received, SipSettings(host="127.0.0.1", udp_port=port, tcp_port=0, tls_port=0)
    )
    stack.sender = listeners
    sender = CdrSender(connector, CdrSpool(spool), drain_interval=0.2)
    kept: list[CallEnded] = []
    pending: set[asyncio.Task[None]] = set()

    def send_cdr(cdr: CallEnded) -> None:
        kept.append(cdr)
        task = asyncio.get_running_loop().create_task(sender.send(cdr))
        pending.add(task)
        task.add_done_callback(pending.discard)

    await listeners.start()
    b2bua = B2BUA(
        stack, policy, local_host="127.0.0.1", local_port=port, node_id="e2e-node", zone="e2e",
        cdr_sink=send_cdr,
    )  # fmt: skip
    sender.start()
    try:
        await policy.wait_ready(30)
        yield SipNode(policy, b2bua, port, kept)
    finally:
        await listeners.stop()
        stack.close()
        if pending:
            await asyncio.wait(pending, timeout=10)
        await sender.stop()
        await policy.stop()
    assert dropped("malformed") == malformed, "a peer sent sip_core a malformed message"


@contextlib.asynccontextmanager
async def billing(database: Database, connector: BusConnector) -> AsyncIterator[BillingWorker]:
    """The billing worker running until the block ends."""
    worker = BillingWorker(database, connector, fetch_wait=0.2, ack_wait=10.0)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.ready.wait(), 30)
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def carrier_answering(port: int, tmp_path: Path) -> Sipp:
    """A sipp carrier at 127.0.0.1:``port`` answering one call and waiting for its BYE."""
    return await start_sipp("-sn", "uas", "-m", "1", port=port, cwd=tmp_path)


async def carrier_refusing(port: int, tmp_path: Path, code: int = 503) -> Sipp:
    """A sipp carrier at 127.0.0.1:``port`` refusing one call with ``code``."""
    folder = tmp_path / f"carrier-{port}"
    folder.mkdir(exist_ok=True)
    path = scenario("uas_reject", folder, code=code)
    return await start_sipp("-sf", str(path), "-m", "1", port=port, cwd=tmp_path)


async def customer_call(tmp_path: Path, node_port: int, number: str, *, hold_ms: int) -> Sipp:
    """One call from the customer (sipp at 127.0.0.1) to ``number``, hung up after ``hold_ms``
    of talk."""
    path = scenario("uac_policy", tmp_path, cli="4930111", hold=hold_ms, refusal=503)
    return await start_sipp(
        "-sf", str(path), f"127.0.0.1:{node_port}", "-s", number, "-m", "1",
        port=free_port(), cwd=tmp_path,
    )  # fmt: skip


async def finished(*peers: Sipp, within: float = 60.0) -> None:
    for peer in peers:
        code, out = await peer.finish(within)
        assert code == 0, f"{peer.args}\n{out}"
