"""``python -m services.sip_core``: run a SIP signalling node."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from libs.bus.cdr import CallEnded
from libs.node import Node
from libs.telemetry import configure_logging
from services.sip_core.b2bua.calls import B2BUA
from services.sip_core.b2bua.policy import CallPolicy, StaticRoutePolicy
from services.sip_core.b2bua.refuse import NoRoutingPolicy
from services.sip_core.cdr import CdrSender, CdrSpool
from services.sip_core.config import SipCoreSettings
from services.sip_core.control import CallControl
from services.sip_core.sip import Peer, TransactionLayer
from services.sip_core.stack import SipStack
from services.sip_core.transport import SipListeners

#: CPython's cyclic collector thresholds for a SIP node. Its live state is mostly transactions,
#: each alive 64·T1 = 32 s after its call's messages, so it grows for the first 32 s under load:
#: with the default (700, 10, 10) that growth set off a collection every few calls and a full
#: one every few seconds. Measured at 400 cps for 60 s (bench/sip_bench.py), the collector
#: took 8.4 s of CPU and paused the node up to 0.7 s (longer than T1: a burst of
#: retransmissions); with these thresholds 1.3 s and 0.12 s. Finished calls do not wait for it
#: (b2bua.calls keeps no reference cycles), so in a steady state it has little to do.
GC_THRESHOLDS = (20_000, 10, 10)


def tune_gc() -> None:
    """Freeze what start-up built (modules, the app: never garbage) out of the collector's
    sight, and collect less often (see :data:`GC_THRESHOLDS`)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def policy_for(settings: SipCoreSettings) -> CallPolicy:
    if settings.sip.static_route:
        host, port = settings.sip.static_route.rsplit(":", 1)
        transport = settings.sip.static_route_transport
        return StaticRoutePolicy(Peer(transport, host, int(port)))
    return NoRoutingPolicy()


def main() -> None:
    settings = SipCoreSettings()
    configure_logging(service="sip_core", level=settings.log_level, json=settings.json_logs)
    stack = SipStack(TransactionLayer(max_transactions=settings.sip.max_transactions))
    listeners = SipListeners(stack.received, settings.sip, on_failure=stack.peer_unreachable)
    stack.sender = listeners
    calls: dict[str, B2BUA] = {}

    @asynccontextmanager
    async def workload(node: Node) -> AsyncIterator[None]:
        cdrs = CdrSender(node.connector, CdrSpool(settings.spool_dir))
        pending: set[asyncio.Task[None]] = set()

        def send_cdr(cdr: CallEnded) -> None:
            task = asyncio.get_running_loop().create_task(cdrs.send(cdr))
            pending.add(task)
            task.add_done_callback(pending.discard)

        await listeners.start()
        host = settings.sip.advertised_address or settings.sip.host
        calls["b2bua"] = B2BUA(
            stack,
            policy_for(settings),
            local_host=host,
            local_port=listeners.bound["udp"][1] if "udp" in listeners.bound else 5060,
            node_id=settings.node_id,
            zone=settings.zone,
            cdr_sink=send_cdr,
            local_ports={name.upper(): port for name, (_, port) in listeners.bound.items()},
            ping_interval=settings.sip.ping_interval,
        )
        cdrs.start()
        tune_gc()

        async def sip_bound() -> None:
            if not listeners.bound:
                raise ConnectionError("no SIP listener bound")

        node.readiness["sip"] = sip_bound
        control = CallControl(calls["b2bua"])
        try:
            async with control.run(node):
                yield
        finally:
            await listeners.stop()
            stack.close()
            if pending:
                await asyncio.wait(pending, timeout=5)
            await cdrs.stop()

    def active() -> int:
        b2bua = calls.get("b2bua")
        return len(b2bua.calls) if b2bua else 0

    advertised = settings.sip.advertised_address or settings.sip.host
    Node(
        role="sip_core",
        settings=settings,
        http=settings.http,
        workload=workload,
        load=lambda: (0.0, {"active_calls": active()}),
        active=active,
        addresses=lambda: {
            **{name: f"{advertised}:{port}" for name, (_, port) in listeners.bound.items()},
            "http": f"{settings.http.host}:{settings.http.port}",
        },
    ).serve_forever(event_loop=settings.sip.event_loop)


if __name__ == "__main__":
    main()
