"""``python -m services.sip_core``: run a SIP signalling node."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from libs.bus import BusConnector
from libs.bus.cdr import CallEnded
from libs.liveconfig import Change, ConfigView
from libs.liveconfig.models import CONFIG_KINDS
from libs.node import Node
from libs.telemetry import configure_logging
from services.sip_core.b2bua.calls import B2BUA
from services.sip_core.b2bua.policy import CallPolicy, MediaPlan, StaticRoutePolicy
from services.sip_core.b2bua.refuse import NoRoutingPolicy
from services.sip_core.cdr import CdrSender, CdrSpool
from services.sip_core.config import SipCoreSettings
from services.sip_core.control import CallControl
from services.sip_core.media import MediaController, RelayDirectory
from services.sip_core.policy import LivePolicy
from services.sip_core.protection import KINDS, LiveProtection, Protection, SecurityReporter
from services.sip_core.registrar import RegistrarNode
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


def policy_for(
    settings: SipCoreSettings,
    connector: BusConnector | None,
    protection: Protection | None = None,
    on_change: Callable[[list[Change]], None] | None = None,
) -> CallPolicy:
    """The static route when one is set (lab, benchmark baseline); else the live policy, or
    refusing every call when there is no bus to read the configuration from. The live policy
    reports authentication failures to ``protection`` (they count towards a flood) and hands
    every configuration change on to ``on_change``."""
    if settings.sip.static_route:
        host, port = settings.sip.static_route.rsplit(":", 1)
        transport = settings.sip.static_route_transport
        media = MediaPlan(mode=settings.sip.static_media, strict=settings.sip.static_media_strict)
        return StaticRoutePolicy(Peer(transport, host, int(port)), media)
    if connector is None:
        return NoRoutingPolicy()
    return LivePolicy(
        connector,
        node_id=settings.node_id,
        zone=settings.zone,
        digest_algorithms=settings.sip.digest_algorithms,
        keys=settings.egress_key_ring(),
        limits_interval=settings.sip.limits_share_interval,
        on_auth_failure=protection.auth_failed if protection is not None else None,
        on_change=on_change,
    )


def main() -> None:
    settings = SipCoreSettings()
    configure_logging(service="sip_core", level=settings.log_level, json=settings.json_logs)
    stack = SipStack(TransactionLayer(max_transactions=settings.sip.max_transactions))
    # The security plane: consulted by the transports before parsing. Its clock is the
    # monotonic one the event loop uses.
    protection = Protection(
        time.monotonic,
        node_id=settings.node_id,
        zone=settings.zone,
        max_sources=settings.sip.flood_max_sources,
    )
    listeners = SipListeners(
        stack.received, settings.sip, on_failure=stack.peer_unreachable, gate=protection
    )
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

        reporter = SecurityReporter(node.connector)
        reporter.start()
        protection.report = reporter.report
        live: LiveProtection | None = None

        def changed(changes: list[Change]) -> None:
            if live is not None:
                live.on_change(changes)

        policy = policy_for(settings, node.connector, protection, changed)
        view: ConfigView
        if isinstance(policy, LivePolicy) and policy.view is not None:
            # One view of the configuration for the node: the policy's, its changes fanned
            # out to the security plane (firewall, exemptions, flood thresholds).
            view = policy.view
            policy.start()
            # Not ready (and so not announced to load balancers) before the first snapshot.
            node.readiness["config"] = policy.check_ready
        else:
            view = ConfigView(
                node.connector, {kind: CONFIG_KINDS[kind] for kind in KINDS}, on_change=changed
            )
            view.start()
        live = LiveProtection(protection, view, trusted=settings.sip.trusted_networks)
        live.start(node.connector)

        await listeners.start()
        media = MediaController(
            node.connector,
            RelayDirectory(node.connector, ttl=settings.media_control.relay_ttl),
            node_id=settings.node_id,
            offer_timeout=settings.media_control.offer_timeout,
            request_timeout=settings.media_control.request_timeout,
        )
        host = settings.sip.advertised_address or settings.sip.host
        calls["b2bua"] = B2BUA(
            stack,
            policy,
            local_host=host,
            local_port=listeners.bound["udp"][1] if "udp" in listeners.bound else 5060,
            node_id=settings.node_id,
            zone=settings.zone,
            cdr_sink=send_cdr,
            local_ports={name.upper(): port for name, (_, port) in listeners.bound.items()},
            ping_interval=settings.sip.ping_interval,
            media=media,
        )
        media.start()
        registrar: RegistrarNode | None = None
        if isinstance(policy, LivePolicy) and node.connector is not None:
            registrar = RegistrarNode(
                calls["b2bua"], policy, node.connector, settings.registrar, node_id=settings.node_id
            )
            registrar.start()
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
            if registrar is not None:
                await registrar.stop()
            await listeners.stop()
            stack.close()
            await media.stop()
            if isinstance(policy, LivePolicy):
                await policy.stop()  # and its view
            else:
                await view.stop()
            await live.stop()
            await reporter.stop()
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
