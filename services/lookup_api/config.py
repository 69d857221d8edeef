"""lookup_api settings (``TANDEM_`` environment variables; see ``libs.config``)."""

from __future__ import annotations

from libs.config import HttpSettings, ServiceSettings


class LookupApiSettings(ServiceSettings):
    http: HttpSettings = HttpSettings(port=8003)
