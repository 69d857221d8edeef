"""lookup_api settings (``TANDEM_`` environment variables; see ``libs.config``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from libs.config import HttpSettings, ServiceSettings


class LookupSettings(BaseModel):
    #: Answer single lookups on the lean ASGI path (off: FastAPI's routes answer them).
    fast_path: bool = True
    #: Seconds between two usage reports of this node.
    usage_report_interval: float = 2.0
    #: The HTTP server of ``python -m services.lookup_api``: granian (Rust HTTP/1.1 parsing and
    #: response writing; ~1.2-1.8x uvicorn's lookups per core in ``bench/lookup_bench.py``) or
    #: uvicorn (uvloop + httptools, as every other Tandem API).
    server: Literal["granian", "uvicorn"] = "granian"


class LookupApiSettings(ServiceSettings):
    http: HttpSettings = HttpSettings(port=8003)
    lookup: LookupSettings = LookupSettings()
