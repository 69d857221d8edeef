"""rtp_relay settings (``TANDEM_`` environment variables; see ``libs.config``).

Media settings are nested under ``media``: ``TANDEM_MEDIA__PORT_MIN=20000``,
``TANDEM_MEDIA__TIMEOUT=60``, ``TANDEM_MEDIA__EVENT_LOOP=asyncio``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from libs.config import HttpSettings, ServiceSettings
from libs.node import EventLoop


class MediaSettings(BaseModel):
    #: Address the RTP sockets bind to.
    host: str = "127.0.0.1"
    #: Address announced in SDP (the public/NAT address); defaults to ``host``.
    advertised_address: str | None = None
    port_min: int = Field(20000, ge=1024, le=65534)
    port_max: int = Field(29999, ge=1025, le=65535)
    #: Seconds a leg may send nothing (no RTP, no RTCP) after the answer before the relay ends
    #: the session and publishes ``MediaTimedOut`` (sip_core then releases the call with
    #: "RTP timeout"). A call on hold keeps its RTCP flowing, so it does not time out.
    timeout: float = Field(60.0, gt=0)
    #: Seconds an offer may wait for its answer before the session is dropped as an orphan
    #: (a sip_core that crashed mid-setup); well above any ring timeout.
    setup_timeout: float = Field(600.0, gt=0)
    #: Seconds of silence from a latched RTP peer after which another source (from the expected
    #: IP, when known) may take the latch over (NAT rebinding, media server fail-over).
    relatch_after: float = Field(3.0, ge=0)
    #: Seconds between two passes of the time-out / rate sweep.
    sweep_interval: float = Field(1.0, gt=0, le=10)
    #: SO_RCVBUF of each media socket in bytes; 0 keeps the system default.
    rcvbuf: int = Field(0, ge=0)
    #: Port pairs tried per leg when binding fails (a port held by another process).
    bind_attempts: int = Field(32, ge=1)
    #: The relay's event loop: uvloop spends about half the CPU per relayed packet of the
    #: standard loop (bench/rtp_relay_bench.py).
    event_loop: EventLoop = "uvloop"

    @model_validator(mode="after")
    def _range(self) -> MediaSettings:
        if self.port_max <= self.port_min:
            raise ValueError("media.port_max must be above media.port_min")
        if self.port_pairs == 0:
            raise ValueError("media.port_min-port_max holds no RTP/RTCP port pair")
        return self

    @property
    def port_pairs(self) -> int:
        """How many RTP/RTCP pairs (even RTP port, RTCP = RTP + 1) the range holds."""
        first = self.port_min + (self.port_min % 2)
        return max(0, (self.port_max - first + 1) // 2)

    @property
    def announced_address(self) -> str:
        """The address peers send media to (put in SDP by sip_core)."""
        return self.advertised_address or self.host


class RtpRelaySettings(ServiceSettings):
    http: HttpSettings = HttpSettings(port=8005)
    media: MediaSettings = MediaSettings()
