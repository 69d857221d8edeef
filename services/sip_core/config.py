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
    #: Outbound TCP/TLS connections to carriers open at once (each carrier gateway needs one).
    max_outbound_connections: int = Field(1_000, ge=1)
    #: Seconds to open a TCP/TLS connection to a carrier (name resolution and TLS handshake
    #: included) before its calls fail over to the next carrier.
    connect_timeout: float = Field(5.0, gt=0)
    #: Verify carriers' TLS certificates (chain and name). Off only for a lab.
    tls_verify: bool = True
    #: CA bundle for carriers' certificates; unset, the system's trust store.
    tls_ca_file: Path | None = None
    #: DNS servers for carrier names (``TANDEM_SIP__DNS_SERVERS='["10.0.0.2"]'``); empty: the
    #: system's resolv.conf.
    dns_servers: list[str] = Field(default_factory=list)
    dns_port: int = Field(53, ge=1, le=65535)
    #: Seconds one resolution may take (all its queries).
    dns_timeout: float = Field(2.0, gt=0)
    #: Seconds a name that did not resolve is remembered as such.
    dns_negative_ttl: float = Field(30.0, ge=0)
    #: Seconds between in-dialog OPTIONS pings on each leg of an answered call; 0 disables them.
    #: A leg that answers 408/481 or not at all (Timer F) ends the call.
    ping_interval: float = Field(30.0, ge=0)
    #: ``host:port`` every call is sent to, numbers unchanged (a lab or benchmark set-up);
    #: unset, calls are routed by the live configuration.
    static_route: str | None = Field(None, pattern=r"^[^:\s]+:\d{1,5}$")
    #: The transport of ``static_route``.
    static_route_transport: Literal["UDP", "TCP", "TLS"] = "UDP"
    #: Live transactions allowed before new requests get 503 + Retry-After.
    max_transactions: int = Field(100_000, ge=100)
    #: The node's event loop (``TANDEM_SIP__EVENT_LOOP``). uvloop takes less CPU per call
    #: (``bench/sip_bench.py --loops uvloop,asyncio`` measures both).
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"


class SipCoreSettings(ServiceSettings):
    http: HttpSettings = HttpSettings(port=8004)
    sip: SipSettings = SipSettings()
    #: Durable folder for CDRs waiting for NATS.
    spool_dir: Path = Path("data/spool")
