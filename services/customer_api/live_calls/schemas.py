from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator


class LiveCall(BaseModel):
    """One of your calls in progress (the carrier side is the operator's and not shown)."""

    call_id: str = Field(description="The call's id (its CDR's call_id once it ends).")
    zone: str
    caller: str
    callee: str
    state: Literal["routing", "early", "answered"] = Field(
        description="Routing to a carrier, ringing (early media), or answered."
    )
    started_at: datetime
    answered_at: datetime | None
    source_address: str = Field(description="Where your INVITE came from.")

    @model_validator(mode="before")
    @classmethod
    def _from_bus(cls, value: Any) -> Any:
        if hasattr(value, "model_dump"):
            return value.model_dump(include=set(cls.model_fields))
        return value


class LiveCallList(BaseModel):
    items: list[LiveCall]
    total: int = Field(description="Your calls in progress on the nodes that answered.")
    complete: bool = Field(description="False when a switch node did not answer in time.")
