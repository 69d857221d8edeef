"""``python -m services.rtp_relay``: run a media relay node.

The relay runs on uvloop unless ``TANDEM_MEDIA__EVENT_LOOP=asyncio``: it spends about half
the CPU per relayed packet of the standard loop (bench/rtp_relay_bench.py).
"""

from __future__ import annotations

import resource

import structlog

from libs.node import Node
from libs.telemetry import configure_logging
from services.rtp_relay.config import RtpRelaySettings
from services.rtp_relay.control import RelayControl

_log = structlog.get_logger(__name__)


def _raise_file_limit(needed: int) -> None:
    """Four sockets per call: lift the soft descriptor limit towards what the range needs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < needed:
        _log.warning("media.file_limit_low", limit=want, needed=needed)


def main() -> None:
    settings = RtpRelaySettings()
    configure_logging(service="rtp_relay", level=settings.log_level, json=settings.json_logs)
    media = settings.media
    _raise_file_limit(2 * media.port_pairs + 1024)
    if media.advertised_address is None and media.host in ("0.0.0.0", "::"):  # noqa: S104
        _log.warning(
            "media.no_advertised_address",
            detail="media.host is a wildcard: set media.advertised_address, the address "
            "peers reach this relay on, or SDP will carry the wildcard",
        )
    control = RelayControl(settings)
    node = Node(
        role="rtp_relay",
        settings=settings,
        http=settings.http,
        workload=control.run,
        load=control.load,
        active=lambda: len(control.plane.table),
        addresses=lambda: {
            "media": media.announced_address,
            "http": f"{settings.http.host}:{settings.http.port}",
        },
    )
    node.serve_forever(event_loop=media.event_loop)


if __name__ == "__main__":
    main()
