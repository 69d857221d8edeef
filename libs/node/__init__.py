"""The process skeleton of the SIP and media nodes (sip_core, rtp_relay).

A node serves its health/metrics HTTP port from the first moment, keeps trying to reach NATS
in the background (``/readyz`` says 503 until it has), announces itself in the presence bucket
every few seconds once connected, runs its own workload beside all this, and on SIGINT/SIGTERM
withdraws its presence, stops its workload, drains the bus and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from fastapi import APIRouter, FastAPI, Request

from libs.bus import BusConnector, NodeHeartbeat, PresencePublisher
from libs.config import NatsSettings, ServiceSettings
from libs.errors import PermissionDenied
from libs.web import ReadinessCheck, build_app, http_server, run_until_signalled

__all__ = ["EventLoop", "Node", "bus_connector"]

_log = structlog.get_logger(__name__)

VERSION = "0.1.0"

#: The event loop a node runs on: uvloop (libuv) or the standard library's.
EventLoop = Literal["uvloop", "asyncio"]


def bus_connector(nats: NatsSettings, *, name: str) -> BusConnector:
    """A :class:`BusConnector` configured from settings (TLS client certificate, credentials)."""
    tls: ssl.SSLContext | None = None
    if nats.tls_ca_file or nats.tls_cert_file:
        tls = ssl.create_default_context(cafile=str(nats.tls_ca_file) if nats.tls_ca_file else None)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        if nats.tls_cert_file and nats.tls_key_file:
            tls.load_cert_chain(str(nats.tls_cert_file), str(nats.tls_key_file))
    return BusConnector(
        nats.servers,
        name=name,
        connect_timeout=nats.connect_timeout,
        request_timeout=nats.request_timeout,
        tls=tls,
        user_credentials=str(nats.credentials_file) if nats.credentials_file else None,
    )


Workload = Callable[["Node"], AbstractAsyncContextManager[None]]


class Node:
    """One sip_core or rtp_relay process.

    ``workload(node)`` is an async context manager: entering it starts the node's real work
    (SIP transports, media sockets) and exiting it stops that work. ``load()`` returns the
    node's load (0..1) and its role-specific capacity figures for the heartbeat.
    """

    def __init__(
        self,
        *,
        role: str,
        settings: ServiceSettings,
        http: Any,
        workload: Workload,
        load: Callable[[], tuple[float, Mapping[str, float | int]]],
        addresses: Callable[[], Mapping[str, str]],
        active: Callable[[], int] = lambda: 0,
        heartbeat_interval: float = 2.0,
    ) -> None:
        self.role = role
        self.settings = settings
        self.http = http
        self.connector = bus_connector(settings.nats, name=f"{role}:{settings.node_id}")
        self.readiness: dict[str, ReadinessCheck] = {"nats": self._check_bus}
        self.draining = False
        self._workload = workload
        self._load = load
        self._addresses = addresses
        self._active = active
        self._heartbeat_interval = heartbeat_interval
        self._started_at = datetime.now(UTC)

    @property
    def presence_key(self) -> str:
        return f"{self.role}.{self.settings.node_id}"

    def heartbeat(self) -> NodeHeartbeat:
        load, capacity = self._load()
        return NodeHeartbeat(
            node_id=self.settings.node_id,
            role=self.role,
            zone=self.settings.zone,
            version=VERSION,
            started_at=self._started_at,
            sent_at=datetime.now(UTC),
            load=min(1.0, max(0.0, load)),
            capacity=dict(capacity),
            draining=self.draining,
            addresses=dict(self._addresses()),
        )

    async def _check_bus(self) -> None:
        if not self.connector.connected:
            raise ConnectionError("not connected to NATS")

    def health_app(self) -> FastAPI:
        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            app.state.readiness = self.readiness
            yield

        return build_app(
            title=f"Tandem {self.role}",
            version=VERSION,
            description=f"Health and metrics of a {self.role} node.",
            routers=[self._drain_router()],
            lifespan=lifespan,
        )

    def _drain_router(self) -> APIRouter:
        """``POST /drain`` stops new work; ``GET /drain`` says how much work remains.

        Kubernetes' preStop hook (``deploy/k8s/base/hooks/drain.py``) drains a node before its
        SIGTERM so calls end naturally. Only loopback clients may drain: the health port of a
        hostNetwork pod is reachable from the network.
        """
        router = APIRouter(tags=["operations"])

        def status() -> dict[str, Any]:
            return {"draining": self.draining, "active": self._active()}

        @router.post("/drain", operation_id="drain", summary="Take no new work")
        async def drain(request: Request) -> dict[str, Any]:
            client = request.client.host if request.client else ""
            if client not in ("127.0.0.1", "::1"):
                raise PermissionDenied("draining is allowed from the node itself only")
            if not self.draining:
                _log.info("draining: no new work accepted", node=self.settings.node_id)
            self.draining = True
            return status()

        @router.get("/drain", operation_id="drain_status", summary="Draining state")
        async def drain_status() -> dict[str, Any]:
            return status()

        return router

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut down in order."""
        self.connector.start()
        server = http_server(self.health_app(), self.http)
        server_task = asyncio.create_task(server.serve(), name="http")
        leaving = asyncio.Event()
        presence_task = asyncio.create_task(self._announce(leaving), name="presence")
        try:
            async with self._workload(self):
                _log.info("node started", role=self.role, node=self.settings.node_id)
                await stop.wait()
                self.draining = True
        finally:
            # Ask the announcer to withdraw (a cancelled task could not await the delete);
            # cancel it only if it is still waiting for a first connection.
            leaving.set()
            done, _ = await asyncio.wait({presence_task}, timeout=5.0)
            if not done:
                presence_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await presence_task
            server.should_exit = True
            await server_task
            await self.connector.close()
            _log.info("node stopped", role=self.role, node=self.settings.node_id)

    async def _announce(self, leaving: asyncio.Event) -> None:
        """Once NATS is reachable, heartbeat into the presence bucket until ``leaving``."""
        bus = await self.connector.wait_connected()
        publisher = PresencePublisher(
            bus, self.presence_key, self.heartbeat, interval=self._heartbeat_interval
        )
        publisher.start()
        try:
            await leaving.wait()
        finally:
            await publisher.stop(withdraw=True)

    def serve_forever(self, *, event_loop: EventLoop = "asyncio") -> None:
        """Entry point for ``__main__``: run until SIGINT/SIGTERM on ``event_loop``."""
        if event_loop == "uvloop":
            import uvloop

            uvloop.run(run_until_signalled(self.run))
        else:
            asyncio.run(run_until_signalled(self.run))
