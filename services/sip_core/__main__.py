"""``python -m services.sip_core``: run a SIP signalling node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from libs.node import Node
from libs.telemetry import configure_logging
from services.sip_core.b2bua.application import SipApplication
from services.sip_core.config import SipCoreSettings
from services.sip_core.transport import SipListeners


def main() -> None:
    settings = SipCoreSettings()
    configure_logging(service="sip_core", level=settings.log_level, json=settings.json_logs)
    listeners = SipListeners(SipApplication(), settings.sip)

    @asynccontextmanager
    async def workload(node: Node) -> AsyncIterator[None]:
        await listeners.start()

        async def sip_bound() -> None:
            if not listeners.bound:
                raise ConnectionError("no SIP listener bound")

        node.readiness["sip"] = sip_bound
        try:
            yield
        finally:
            await listeners.stop()

    advertised = settings.sip.advertised_address or settings.sip.host
    Node(
        role="sip_core",
        settings=settings,
        http=settings.http,
        workload=workload,
        load=lambda: (0.0, {"active_calls": 0}),
        addresses=lambda: {
            **{name: f"{advertised}:{port}" for name, (_, port) in listeners.bound.items()},
            "http": f"{settings.http.host}:{settings.http.port}",
        },
    ).serve_forever()


if __name__ == "__main__":
    main()
