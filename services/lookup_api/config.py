"""lookup_api settings (``TANDEM_`` environment variables; see ``libs.config``)."""

from __future__ import annotations

from pydantic import BaseModel

from libs.config import HttpSettings, ServiceSettings


class LookupSettings(BaseModel):
    #: Answer single lookups on the lean ASGI path (off: FastAPI's routes answer them).
    fast_path: bool = True
    #: Seconds between two usage reports of this node.
    usage_report_interval: float = 2.0


class LookupApiSettings(ServiceSettings):
    http: HttpSettings = HttpSettings(port=8003)
    lookup: LookupSettings = LookupSettings()
