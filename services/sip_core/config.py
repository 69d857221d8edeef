"""sip_core settings (``TANDEM_`` environment variables; see ``libs.config``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from libs.config import HttpSettings, ServiceSettings


class SipSettings(BaseModel):
    #: Address the SIP listeners bind to.
    host: str = "127.0.0.1"
    #: Address written into our Via/Contact/SDP when it differs from ``host`` (NAT, 0.0.0.0).
    advertised_address: str | None = None
    udp_port: int = Field(5060, ge=0, le=65535, description="0 disables UDP.")
    tcp_port: int = Field(5060, ge=0, le=65535, description="0 disables TCP.")
    tls_port: int = Field(5061, ge=0, le=65535, description="Used when a certificate is set.")
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    max_message_size: int = Field(65_536, ge=1024, le=1_048_576)
    #: SO_RCVBUF and SO_SNDBUF of the UDP socket, so a burst (or a pause of the process) does
    #: not overflow the kernel's ~200 KiB default and drop requests and responses; the kernel
    #: caps it at net.core.rmem_max / wmem_max. 0 keeps the system default.
    udp_socket_buffer: int = Field(4 * 1024 * 1024, ge=0)
    #: Idle TCP/TLS connections are closed after this many seconds.
    tcp_idle_timeout: float = Field(600.0, gt=0)
    #: Concurrent TCP/TLS connections accepted (bounded: a flood cannot exhaust descriptors).
    max_connections: int = Field(10_000, ge=1)
    #: ``host:port`` every call is sent to, numbers unchanged (a lab or benchmark set-up);
    #: unset, calls are routed by the live configuration.
    static_route: str | None = Field(None, pattern=r"^[^:\s]+:\d{1,5}$")
    #: Media of the calls on ``static_route`` (``TANDEM_SIP__STATIC_MEDIA``): ``relay`` anchors
    #: them on an rtp_relay of this node's zone (the issue's default; the embedded platform runs
    #: one), ``direct`` leaves the SDP alone.
    static_media: Literal["relay", "direct"] = "relay"
    #: With ``static_media=relay`` and no relay able to take a call: refuse it (503) rather
    #: than fall back to direct media.
    static_media_strict: bool = False
    #: Live transactions allowed before new requests get 503 + Retry-After.
    max_transactions: int = Field(100_000, ge=100)
    #: The node's event loop (``TANDEM_SIP__EVENT_LOOP``). uvloop takes less CPU per call
    #: (``bench/sip_bench.py --loops uvloop,asyncio`` measures both).
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"


class MediaControlSettings(BaseModel):
    """How sip_core drives the rtp_relays (``TANDEM_MEDIA_CONTROL__…``; not ``TANDEM_MEDIA__``,
    which an rtp_relay reads, so one environment can hold both)."""

    #: Seconds the INVITE to a carrier may wait for a relay's ports (across the relays tried);
    #: then the call is refused (strict) or goes direct (relaxed).
    offer_timeout: float = Field(1.0, gt=0, le=10)
    #: Seconds to wait for a relay's reply to updates and deletes (off the call path).
    request_timeout: float = Field(2.0, gt=0, le=30)
    #: Seconds without a heartbeat after which a relay counts as gone: no new calls, and the
    #: calls it carried end (``media_unavailable``). The presence bucket's TTL.
    relay_ttl: float = Field(10.0, gt=0)


class SipCoreSettings(ServiceSettings):
    http: HttpSettings = HttpSettings(port=8004)
    sip: SipSettings = SipSettings()
    media_control: MediaControlSettings = MediaControlSettings()
    #: Durable folder for CDRs waiting for NATS.
    spool_dir: Path = Path("data/spool")
