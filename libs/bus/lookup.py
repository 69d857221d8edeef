"""lookup_api on the bus: lookups for callers inside the cluster, and usage reports.

::

    subject                     message                 reply
    lookup.<kind>               LookUp                  LookedUp  (kind: number, lrn, cnam,
                                                                   dnc, rate, route)
    lookup.usage.reported       LookupUsageReported     —         (every lookup_api node, every
                                                                   few seconds)

Every lookup_api replica answers ``lookup.<kind>`` in the queue group :data:`LOOKUP_QUEUE`, so
NATS spreads requests over them. In-cluster callers (sip_core, billing) are trusted as the
operator: no API key, no quota (NATS accounts and TLS guard who may publish). A request holds
1 to 1,000 numbers; the reply has one item per number, each with its ``result`` or its
``error`` — the same JSON the REST API answers.

Usage reports carry, per API key, what the node answered since its last report (``requests``,
``refused``: switch_api adds them to the daily counters) and since the UTC day began
(``requests_today``: the other lookup_api nodes use it to enforce daily quotas cluster-wide).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.bus.messages import BusMessage

__all__ = [
    "LOOKUP_MESSAGES",
    "LOOKUP_QUEUE",
    "LOOKUP_SUBJECTS",
    "USAGE_SUBJECT",
    "KeyUsage",
    "LookUp",
    "LookedUp",
    "LookupFailure",
    "LookupItem",
    "LookupKind",
    "LookupUsageReported",
    "lookup_subject",
]

LookupKind = Literal["number", "lrn", "cnam", "dnc", "rate", "route"]
#: Every lookup subject (a responder subscribes to this wildcard).
LOOKUP_SUBJECTS = "lookup.*"
#: The queue group of lookup_api's responders.
LOOKUP_QUEUE = "lookup_api"
USAGE_SUBJECT = "lookup.usage.reported"


def lookup_subject(kind: LookupKind) -> str:
    """``lookup.<kind>``: where a :class:`LookUp` of that kind is sent."""
    return f"lookup.{kind}"


class LookUp(BusMessage):
    """Look numbers up (one lookup kind, the subject's); options as the REST API's."""

    numbers: Annotated[
        list[Annotated[str, Field(max_length=64)]], Field(min_length=1, max_length=1000)
    ]
    country: Annotated[
        str | None, Field(description="Default country (ISO 3166-1) for national formats.")
    ] = None
    include: list[Literal["lrn", "cnam", "dnc"]] = Field(
        default_factory=list, description="number: datasets to add to the answer."
    )
    customer_id: Annotated[str | None, Field(description="rate/route: whose routes.")] = None
    rate_card_id: Annotated[str | None, Field(description="rate: price on this card.")] = None
    cli: Annotated[str, Field(max_length=64, description="route/rate: the caller's number.")] = ""
    tech_prefix: Annotated[str, Field(max_length=32)] = ""
    seed: Annotated[int, Field(description="route: seed of the weighted/gateway choice.")] = 0


class LookupFailure(BaseModel):
    """Why one number could not be looked up (an HTTP status, as the REST API would answer)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: int
    title: str
    detail: str


class LookupItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    index: int
    input: str
    result: dict[str, Any] | None = None
    error: LookupFailure | None = None


class LookedUp(BusMessage):
    """The answer to a :class:`LookUp`: one item per number, in order; or one ``error`` for a
    request that cannot be answered at all (e.g. an unknown kind)."""

    items: list[LookupItem] = Field(default_factory=list)
    error: LookupFailure | None = None
    node_id: str = ""


class KeyUsage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    api_key_id: str
    requests: Annotated[int, Field(ge=0, description="Answered since the last report.")] = 0
    refused: Annotated[int, Field(ge=0, description="Refused (429) since the last report.")] = 0
    requests_today: Annotated[int, Field(ge=0, description="Answered this UTC day.")] = 0


class LookupUsageReported(BusMessage):
    """A lookup_api node reported what its API keys used (see the module's description)."""

    node_id: Annotated[str, Field(min_length=1)]
    day: date
    sent_at: AwareDatetime
    keys: list[KeyUsage] = Field(default_factory=list)


LOOKUP_MESSAGES: tuple[type[BusMessage], ...] = (LookUp, LookedUp, LookupUsageReported)
