"""sip_core settings (``TANDEM_`` environment variables; see ``libs.config``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from libs.config import ConfigError, HttpSettings, ServiceSettings
from libs.security import ConfigurationError, KeyRing

DigestAlgorithm = Literal["SHA-256", "MD5"]


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
    #: Media of the calls on ``static_route`` (``TANDEM_SIP__STATIC_MEDIA``): ``relay`` anchors
    #: them on an rtp_relay of this node's zone (the issue's default; the embedded platform runs
    #: one), ``direct`` leaves the SDP alone.
    static_media: Literal["relay", "direct"] = "relay"
    #: With ``static_media=relay`` and no relay able to take a call: refuse it (503) rather
    #: than fall back to direct media.
    static_media_strict: bool = False
    #: Live transactions allowed before new requests get 503 + Retry-After.
    max_transactions: int = Field(100_000, ge=100)
    #: Networks never flood-banned by this node, beside the live configuration's trusted
    #: firewall rules, IP authentication entries and platform nodes (e.g. a load balancer).
    trusted_networks: list[str] = Field(default_factory=list)
    #: Sources tracked by the flood guard at once (bounded under a spoofed-source flood).
    flood_max_sources: int = Field(65_536, ge=1024)
    #: The node's event loop (``TANDEM_SIP__EVENT_LOOP``). uvloop takes less CPU per call
    #: (``bench/sip_bench.py --loops uvloop,asyncio`` measures both).
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    #: Seconds between this node's reports of its channel and CPS figures to the other
    #: sip_core nodes, so limits hold for the platform (``libs.bus.limits``); 0: each node
    #: enforces every limit on its own (a platform of N nodes admits up to N times a limit).
    limits_share_interval: float = Field(0.25, ge=0, le=10)
    #: Digest challenges offered, in order (RFC 8760: preferred first). Devices that read only
    #: the first challenge and know only MD5 need ``["MD5", "SHA-256"]`` or ``["MD5"]``.
    digest_algorithms: tuple[DigestAlgorithm, ...] = Field(("SHA-256", "MD5"), min_length=1)


class RegistrarSettings(BaseModel):
    """The registrar, NAT keep-alives and calls to registered SIP users
    (``TANDEM_REGISTRAR__*``)."""

    #: Shortest registration granted; a shorter one gets 423 with Min-Expires (RFC 3261 §10.3).
    min_expires: int = Field(60, ge=1)
    #: Longest registration granted (longer requests are shortened).
    max_expires: int = Field(3600, ge=1)
    #: When a REGISTER names no expiry (RFC 3261 §10.2.1.1 suggests an hour).
    default_expires: int = Field(3600, ge=1)
    #: Bindings per SIP user; beyond it the oldest make room.
    max_contacts: int = Field(10, ge=1, le=100)
    #: Send every binding's requests to the address its REGISTER came from.
    force_nat: bool = False
    #: Seconds between NAT keep-alives to a binding whose SIP user has NAT/SIP ping enabled.
    ping_interval: float = Field(60.0, gt=0)
    #: Seconds a ping may go unanswered before the binding is removed (``enabled_timeout``).
    ping_timeout: float = Field(10.0, gt=0)
    #: What ``enabled`` sends: an OPTIONS request, or a CRLF keep-alive (RFC 5626 §4.4.1).
    #: ``enabled_timeout`` always sends OPTIONS (a CRLF gets no answer over UDP).
    keepalive: Literal["options", "crlf"] = "options"
    #: How often the one sweep timer looks for due pings and lapsed bindings.
    sweep_interval: float = Field(1.0, gt=0, le=60)
    #: A call to a registered user: seconds to the first reply, then to the answer, per contact.
    first_reply_timeout: float = Field(5.0, gt=0)
    ring_timeout: float = Field(60.0, gt=0)


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


class EgressKeySettings(BaseModel):
    """The key ring that decrypts carriers' egress passwords (``TANDEM_IDENTITY__…``).

    switch_api encrypts an egress IP authentication entry's password with its identity
    ``encryption_keys``; sip_core needs the same ring (and nothing else of the identity secrets)
    to answer a carrier's 401/407. Set ``TANDEM_IDENTITY__ENCRYPTION_KEYS_FILE=/run/secrets/…``
    (the same variable and file as switch_api's; ``tandem up`` passes its development key).
    Unset, carriers that challenge our INVITEs cannot be answered (the snapshot lists them).
    """

    encryption_keys: SecretStr = SecretStr("")


class SipCoreSettings(ServiceSettings):
    http: HttpSettings = HttpSettings(port=8004)
    identity: EgressKeySettings = EgressKeySettings()
    sip: SipSettings = SipSettings()
    registrar: RegistrarSettings = RegistrarSettings()
    media_control: MediaControlSettings = MediaControlSettings()
    #: Durable folder for CDRs waiting for NATS.
    spool_dir: Path = Path("data/spool")

    def egress_key_ring(self) -> KeyRing | None:
        """The ring of :attr:`identity` (``None`` when unset); :class:`ConfigError` if malformed."""
        spec = self.identity.encryption_keys.get_secret_value()
        if not spec.strip():
            return None
        try:
            return KeyRing.from_spec(spec)
        except ConfigurationError as exc:
            raise ConfigError(f"identity.encryption_keys: {exc}") from None
