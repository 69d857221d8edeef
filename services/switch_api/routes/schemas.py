from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.db.models import MatchKind, MediaMode, RoutingStrategy
from libs.web.fields import Limit, TechPrefix


class Pattern(BaseModel):
    """A literal prefix (digits; empty matches every number) or an RE2 regular expression."""

    model_config = ConfigDict(extra="forbid")

    kind: MatchKind = MatchKind.PREFIX
    value: Annotated[str, Field(max_length=1024, examples=["4420"])] = ""


class RouteCarrier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier_id: uuid.UUID
    priority: Annotated[
        int, Field(ge=-1000, le=1000, description="Lower first (strategy priority).")
    ] = 0
    weight: Annotated[int, Field(ge=0, le=1000, description="Share (strategy weighted).")] = 1


MaxDuration = Annotated[int, Field(ge=1, le=7 * 86400, description="Seconds.")]
Carriers = Annotated[
    list[RouteCarrier], Field(max_length=200, description="Empty: every active carrier.")
]
Excluded = Annotated[list[uuid.UUID], Field(max_length=200)]


class RouteCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "3c9d8f0e-2b1a-4c5d-9e8f-7a6b5c4d3e2f",
                    "name": "UK",
                    "dial_pattern": {"kind": "prefix", "value": "44"},
                    "rate_card_id": "8e1f0c2d-3b4a-4e5f-8a9b-0c1d2e3f4a5b",
                    "strategy": "least_cost",
                    "max_duration": 7200,
                }
            ]
        },
    )

    customer_id: uuid.UUID
    name: Annotated[str, Field(max_length=200)] = ""
    tech_prefix: TechPrefix = ""
    dial_pattern: Pattern = Pattern()
    cli_pattern: Pattern | None = None
    rate_card_id: uuid.UUID = Field(description="The sell card (direction `sell`).")
    strategy: RoutingStrategy = RoutingStrategy.LEAST_COST
    carriers: Carriers = []
    excluded_carrier_ids: Excluded = []
    media_zone_id: uuid.UUID | None = None
    media_mode: MediaMode = MediaMode.PROXY
    max_duration: MaxDuration | None = None
    channel_limit: Limit = 0
    cps_limit: Limit = 0
    priority: Annotated[int, Field(ge=-1000, le=1000)] = 0
    allow_below_cost: bool = False


class RouteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=200)] | None = None
    tech_prefix: TechPrefix | None = None
    dial_pattern: Pattern | None = None
    cli_pattern: Pattern | None = Field(None, description="`null` removes it.")
    rate_card_id: uuid.UUID | None = None
    strategy: RoutingStrategy | None = None
    carriers: Carriers | None = None
    excluded_carrier_ids: Excluded | None = None
    media_zone_id: uuid.UUID | None = Field(None, description="`null` removes it.")
    media_mode: MediaMode | None = None
    max_duration: MaxDuration | None = Field(None, description="`null` removes the cap.")
    channel_limit: Limit | None = None
    cps_limit: Limit | None = None
    priority: Annotated[int, Field(ge=-1000, le=1000)] | None = None
    allow_below_cost: bool | None = None


class Route(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    tech_prefix: str
    dial_pattern: Pattern
    cli_pattern: Pattern | None
    rate_card_id: uuid.UUID
    strategy: RoutingStrategy
    carriers: list[RouteCarrier]
    excluded_carrier_ids: list[uuid.UUID]
    media_zone_id: uuid.UUID | None
    media_mode: MediaMode
    max_duration: int | None
    channel_limit: int
    cps_limit: int
    priority: int
    allow_below_cost: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        if hasattr(value, "dial_kind"):
            fields = set(cls.model_fields) - {"dial_pattern", "cli_pattern"}
            data = {name: getattr(value, name) for name in fields}
            data["dial_pattern"] = Pattern(kind=value.dial_kind, value=value.dial_pattern)
            data["cli_pattern"] = (
                Pattern(kind=value.cli_kind, value=value.cli_pattern)
                if value.cli_kind is not None
                else None
            )
            return data
        return value
