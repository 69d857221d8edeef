"""rtp_relay settings (``TANDEM_`` environment variables; see ``libs.config``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from libs.config import HttpSettings, ServiceSettings


class MediaSettings(BaseModel):
    #: Address the RTP sockets bind to.
    host: str = "127.0.0.1"
    #: Address announced in SDP (the public/NAT address); defaults to ``host``.
    advertised_address: str | None = None
    port_min: int = Field(20000, ge=1024, le=65534)
    port_max: int = Field(29999, ge=1025, le=65535)

    @model_validator(mode="after")
    def _range(self) -> MediaSettings:
        if self.port_max <= self.port_min:
            raise ValueError("media.port_max must be above media.port_min")
        return self

    @property
    def port_pairs(self) -> int:
        """How many RTP/RTCP pairs (even RTP port, RTCP = RTP + 1) the range holds."""
        first = self.port_min + (self.port_min % 2)
        return max(0, (self.port_max - first + 1) // 2)


class RtpRelaySettings(ServiceSettings):
    http: HttpSettings = HttpSettings(port=8005)
    media: MediaSettings = MediaSettings()
