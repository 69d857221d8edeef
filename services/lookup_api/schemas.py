"""The lookup API's documented shapes (what the lean path and the FastAPI routes answer)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from services.lookup_api.service import BATCH_LIMIT

Kind = Literal["number", "lrn", "cnam", "dnc", "rate", "route"]
Include = Literal["lrn", "cnam", "dnc"]


class DatasetRef(BaseModel):
    id: str
    name: str


class LrnAnswer(BaseModel):
    found: bool = Field(description="An LRN dataset holds the number.")
    ported: bool = Field(description="Its LRN differs from the number itself.")
    lrn: str | None = Field(description="The location routing number (digits).")
    operator: str | None = Field(description="The operator (SPID/OCN) serving it now.")
    dataset: DatasetRef | None = Field(description="The dataset that answered.")


class Lrn(LrnAnswer):
    number: str = Field(description="E.164.", examples=["+12125550123"])


class CnamAnswer(BaseModel):
    found: bool
    name: str | None = Field(description="The caller name.")
    dataset: DatasetRef | None


class Cnam(CnamAnswer):
    number: str


class DncList(DatasetRef):
    entry: str = Field(description="The number or prefix on the list (E.164 digits).")
    prefix: bool = Field(description="The entry is a prefix of the number.")


class DncAnswer(BaseModel):
    listed: bool
    lists: list[DncList]


class Dnc(DncAnswer):
    number: str


class NumberInfo(BaseModel):
    input: str
    e164: str = Field(examples=["+442079460018"])
    valid: bool = Field(description="The number is in a range its country allocates.")
    possible: bool = Field(description="The number has a possible length.")
    country_code: int
    region: str | None = Field(description="ISO 3166-1 region.", examples=["GB"])
    national_number: str
    national_format: str
    international_format: str
    type: Literal[
        "fixed_line",
        "mobile",
        "fixed_line_or_mobile",
        "toll_free",
        "premium_rate",
        "shared_cost",
        "voip",
        "personal_number",
        "pager",
        "uan",
        "voicemail",
        "unknown",
    ]
    original_carrier: str | None = Field(description="The operator the range was allocated to.")
    location: str | None
    time_zones: list[str]
    lrn: LrnAnswer | None = Field(default=None, description="With include=lrn.")
    cnam: CnamAnswer | None = Field(default=None, description="With include=cnam.")
    dnc: DncAnswer | None = Field(default=None, description="With include=dnc.")


class Increments(BaseModel):
    initial: int
    subsequent: int


class BuyRate(BaseModel):
    prefix: str
    destination: str
    rate: str = Field(description="Per minute, a decimal string.")
    connection_fee: str
    increments: Increments


class RateAnswer(BuyRate):
    number: str
    route_id: str | None = Field(description="The customer's route whose sell card priced it.")
    rate_card_id: str
    currency: str
    blocked: bool


class SellRate(BuyRate):
    rate_card_id: str
    currency: str | None = Field(description="The card's currency (when the card is loaded).")
    blocked: bool


class Gateway(BaseModel):
    id: str
    host: str
    port: int
    transport: str


class RouteCarrier(BaseModel):
    carrier_id: str
    name: str
    gateway: Gateway
    number: str = Field(description="The number as sent: the carrier's tech prefix + dialled.")
    buy_rate: BuyRate
    margin: str = Field(description="Sell minus buy rate per minute.")


class Dropped(BaseModel):
    carrier_id: str
    reason: str
    buy_rate: str | None


class Refusal(BaseModel):
    reason: str
    sip_status: int
    detail: str


class RouteRef(BaseModel):
    id: str
    strategy: str


class RouteAnswer(BaseModel):
    customer_id: str
    number: str | None = None
    routed: bool
    route: RouteRef | None
    sell_rate: SellRate | None
    carriers: list[RouteCarrier] = Field(description="In the order sip_core tries them.")
    dropped: list[Dropped]
    refusal: Refusal | None
    seed: int


class BatchRequest(BaseModel):
    lookup: Kind = "number"
    numbers: Annotated[
        list[Annotated[str, Field(max_length=64)]], Field(min_length=1, max_length=BATCH_LIMIT)
    ]
    country: Annotated[str | None, Field(max_length=2)] = None
    include: list[Include] = Field(default_factory=list)
    customer_id: str | None = None
    rate_card_id: str | None = None
    cli: Annotated[str, Field(max_length=64)] = ""
    tech_prefix: Annotated[str, Field(max_length=32)] = ""
    seed: int = 0


class ItemError(BaseModel):
    status: int
    title: str
    detail: str


class BatchItem(BaseModel):
    index: int
    input: str
    result: dict[str, object] | None = Field(
        default=None, description="The single lookup's answer (NumberInfo, Lrn, …)."
    )
    error: ItemError | None = None


class BatchResponse(BaseModel):
    lookup: Kind
    items: list[BatchItem]


class KeyUsageView(BaseModel):
    api_key_id: str
    requests_per_second: int
    daily_quota: int
    used_today: int = Field(description="Lookups this UTC day, all lookup_api nodes together.")
    refused_today: int = Field(description="Refused by this node today.")
