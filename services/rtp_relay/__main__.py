"""``python -m services.rtp_relay``: run a media relay node."""

from libs.node import Node
from libs.telemetry import configure_logging
from services.rtp_relay.config import RtpRelaySettings
from services.rtp_relay.control import RelayControl


def main() -> None:
    settings = RtpRelaySettings()
    configure_logging(service="rtp_relay", level=settings.log_level, json=settings.json_logs)
    control = RelayControl(settings)
    media = settings.media
    Node(
        role="rtp_relay",
        settings=settings,
        http=settings.http,
        workload=control.run,
        load=lambda: (
            control.ports_in_use / max(1, control.capacity),
            {"port_pairs": control.capacity, "port_pairs_in_use": control.ports_in_use},
        ),
        addresses=lambda: {
            "media": media.advertised_address or media.host,
            "http": f"{settings.http.host}:{settings.http.port}",
        },
    ).serve_forever()


if __name__ == "__main__":
    main()
