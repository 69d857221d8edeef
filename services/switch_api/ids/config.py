"""The IDS worker's settings (``TANDEM_`` environment variables; see ``libs.config``)."""

from __future__ import annotations

from pydantic import Field

from libs.config import HttpSettings, ServiceSettings


class IdsSettings(ServiceSettings):
    http: HttpSettings = HttpSettings(port=8006)
    #: Distinct usernames tried from one source (within the auth-failure window) that make a
    #: username enumeration.
    enumeration_usernames: int = Field(5, ge=2, le=1000)
