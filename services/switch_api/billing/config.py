"""The billing worker's settings (``TANDEM_`` environment variables; see ``libs.config``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from libs.config import HttpSettings, ServiceSettings

__all__ = ["BillingSettings", "BillingWorkerSettings"]


class BillingSettings(BaseModel):
    batch_size: int = Field(500, ge=1, le=5000, description="CDRs per fetch and transaction.")
    fetch_wait: float = Field(1.0, gt=0, le=30, description="Seconds a fetch waits for CDRs.")
    ack_wait: float = Field(
        30.0, ge=5, le=600, description="Seconds before an unacknowledged CDR is redelivered."
    )


class BillingWorkerSettings(ServiceSettings):
    http: HttpSettings = HttpSettings(port=8006)
    billing: BillingSettings = BillingSettings()
