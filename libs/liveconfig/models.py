"""The typed configuration objects switch_api publishes, one :class:`ConfigObject` per kind.

Keys are ``<kind>.<id>`` in the configuration bucket; the JSON fields are the attributes below.
Shapes follow :mod:`libs.routing.data` where routing reads them (``carrier``, ``route``,
``rewrite``, the ``ratecard`` blob), so a node can hand ``obj.model_dump(mode="json")`` to
``libs.routing.parse_carrier`` / ``parse_route`` / ``parse_rewrite_rule`` and the decoded blob
to ``parse_rate_card``. Money is a decimal *string*, never a float.

==========  ================================================================================
kind        what it carries
==========  ================================================================================
customer    an account's status and limits (the balance is its own kind: billing moves it)
carrier     a carrier, its buy card, limits, timeouts, failover/stop codes, egress gateways
ipauth      an IP authentication entry (customer or carrier; ingress or egress)
sipuser     a SIP user: username, realm and HA1s (never a password), limits, allow list
rewrite     a parameter rewrite rule of an ``ipauth`` entry or a ``sipuser``
route       a customer's ingress route
firewall    a block / allow / trusted rule that has not expired
settings    the platform-wide settings (one object, id :data:`SETTINGS_ID`)
balance     a customer's balance and today's spend, published by billing after each commit
lookupkey   an API key allowed on lookup_api: its SHA-256 verifier (never the key), owner,
            source allow list, rate limit and daily quota (id: the API key's id)
ratecard    blob (object store) behind a :class:`~libs.liveconfig.BlobPointer`: the revisions
            of a card in effect now and scheduled, as :func:`encode_rate_card` describes
lrn, cnam,  blobs of lookup datasets (:mod:`libs.lookup.datasets`), pointer ``<kind>.<dataset
dnc         id>``
==========  ================================================================================
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.liveconfig.errors import ConfigDecodeError
from libs.liveconfig.objects import BlobPointer, ConfigObject

__all__ = [
    "CONFIG_KINDS",
    "RATECARD_BLOB_FORMAT",
    "SETTINGS_ID",
    "BalanceConfig",
    "CarrierConfig",
    "CustomerConfig",
    "FirewallConfig",
    "GatewayConfig",
    "IpAuthConfig",
    "LookupKeyConfig",
    "RewriteConfig",
    "RouteCarrierConfig",
    "RouteConfig",
    "SettingsConfig",
    "SipUserConfig",
    "decode_rate_card",
    "encode_rate_card",
    "ipauth_password_associated_data",
    "json_line",
    "load_rate_card_blob",
]

SETTINGS_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")

Decimal = str  # money on the wire: a decimal string ("0.0125")


class CustomerConfig(ConfigObject):
    kind: ClassVar[str] = "customer"

    name: str
    status: Literal["active", "suspended", "closed"] | str
    currency: str
    debit_limit: Decimal
    daily_spend_limit: Decimal = "0"
    channel_limit: int = 0
    cps_limit: int = 0
    max_call_duration: int = 0
    #: CIDR networks the account's calls may come from (empty: anywhere).
    source_ranges: list[str] = Field(default_factory=list)
    #: Flood limit for sources in the account's ranges (``None``: the global setting).
    flood_max_requests: int | None = None


class BalanceConfig(ConfigObject):
    """A customer's money position (id: the customer's id), what sip_core's balance check reads.

    Billing publishes it after every commit that moves the balance (rated CDRs, payments,
    adjustments, re-rates); ``version`` grows with each change, so a consumer never goes back to
    an older figure. A call is refused when ``balance`` + the customer's ``debit_limit`` ≤ 0, or
    when ``spent_today`` (the UTC day ``day``) has reached the customer's ``daily_spend_limit``.
    """

    kind: ClassVar[str] = "balance"

    balance: Decimal
    currency: str
    #: Charges of the UTC day ``day`` (a spend counted on another day reads as 0).
    spent_today: Decimal = "0"
    day: date | None = None


class GatewayConfig(BaseModel):
    """A carrier's egress gateway, in :func:`libs.routing.parse_carrier`'s shape."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    host: str
    port: int = 5060
    transport: str = "udp"
    weight: int = 1


class CarrierTimeoutsConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    first_reply: float = 3.0
    post_dial_delay: float = 15.0
    ring: float = 120.0


class CarrierConfig(ConfigObject):
    kind: ClassVar[str] = "carrier"

    name: str
    status: str = "active"
    #: The buy card; ``None`` until one is assigned (routing skips such a carrier).
    rate_card_id: str | None = None
    channel_limit: int = 0
    cps_limit: int = 0
    timeouts: CarrierTimeoutsConfig = CarrierTimeoutsConfig()
    failover_codes: list[int] = Field(default_factory=list)
    stop_codes: list[int] = Field(default_factory=list)
    tech_prefix: str = ""
    pai_policy: str = "pass"
    #: Egress IP authentication entries of the carrier (transport ``tls_srtp`` shows as ``tls``).
    gateways: list[GatewayConfig] = Field(default_factory=list)


class IpAuthConfig(ConfigObject):
    kind: ClassVar[str] = "ipauth"

    owner: Literal["customer", "carrier"]
    customer_id: uuid.UUID | None = None
    carrier_id: uuid.UUID | None = None
    address: str
    direction: Literal["ingress", "egress"]
    port: int = 5060
    transport: str = "udp"
    tech_prefix: str = ""
    cli_auth: bool = False
    channel_limit: int = 0
    cps_limit: int = 0
    force_nat: bool = False
    weight: int = 1
    username: str | None = None
    #: AES-256-GCM ciphertext of the egress password (``libs.security.KeyRing``, associated
    #: data ``ipauth-password:<id>``): sip_core decrypts it with the identity encryption keys.
    password_ciphertext: str | None = None
    restricted_codecs: list[str] = Field(default_factory=list)
    media_zone: str | None = None


def ipauth_password_associated_data(entry_id: uuid.UUID) -> bytes:
    """What an egress password's ciphertext is bound to (``IpAuthConfig.password_ciphertext``):
    switch_api encrypts and sip_core decrypts with the same, so a ciphertext copied onto another
    entry does not decrypt."""
    return f"ipauth-password:{entry_id}".encode()


class SipUserConfig(ConfigObject):
    kind: ClassVar[str] = "sipuser"

    customer_id: uuid.UUID
    username: str
    realm: str
    ha1_md5: str
    ha1_sha256: str
    channel_limit: int = 0
    cps_limit: int = 0
    allowed_sources: list[str] = Field(default_factory=list)
    calls_outside_allow_list: int = 0
    nat_ping: str = "disabled"
    retain_did: bool = False
    transport: str = "udp"
    restricted_codecs: list[str] = Field(default_factory=list)


class RewriteConfig(ConfigObject):
    """In :func:`libs.routing.parse_rewrite_rule`'s shape, plus its owner."""

    kind: ClassVar[str] = "rewrite"

    owner: Literal["ipauth", "sipuser"]
    owner_id: uuid.UUID
    target: Literal["destination", "cli"]
    #: ``kind`` is a class attribute of every config object, so the match kind is ``match_kind``
    #: in Python and ``"kind"`` in JSON (what routing reads).
    match_kind: Literal["prefix", "regex"] = Field(alias="kind")
    match: str
    replacement: str
    order: int = 0

    model_config = ConfigDict(
        extra="ignore", frozen=True, validate_by_name=True, serialize_by_alias=True
    )


class RouteCarrierConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    carrier_id: str
    priority: int = 0
    weight: int = 1


class RouteConfig(ConfigObject):
    """In :func:`libs.routing.parse_route`'s shape."""

    kind: ClassVar[str] = "route"

    customer_id: str
    name: str = ""
    rate_card_id: str
    tech_prefix: str = ""
    #: ``{"prefix": "44"}`` or ``{"regex": "^44(20|7)"}``.
    dial_pattern: dict[str, str] = Field(default_factory=lambda: {"prefix": ""})
    cli_pattern: dict[str, str] | None = None
    strategy: str = "least_cost"
    carriers: list[RouteCarrierConfig] = Field(default_factory=list)
    excluded_carriers: list[str] = Field(default_factory=list)
    media_zone: str | None = None
    media_mode: str = "proxy"
    max_duration: int | None = None
    channel_limit: int = 0
    cps_limit: int = 0
    priority: int = 0
    allow_below_cost: bool = False


class FirewallConfig(ConfigObject):
    kind: ClassVar[str] = "firewall"

    network: str
    action: Literal["block", "allow", "trusted"]
    source: Literal["manual", "automatic"] = "manual"
    #: Nodes may also drop the rule themselves at this instant (switch_api deletes the key).
    expires_at: datetime | None = None


class SettingsConfig(ConfigObject):
    kind: ClassVar[str] = "settings"

    platform_channel_limit: int = 0
    flood_max_requests: int = 200
    flood_window_seconds: int = 10
    flood_block_seconds: int = 3600
    auth_failure_max: int = 10
    auth_failure_window_seconds: int = 300
    auth_failure_block_seconds: int = 3600
    first_reply_timeout: float = 3.0
    post_dial_delay_timeout: float = 15.0
    ring_timeout: float = 120.0
    sip_realm: str = "tandem"


class LookupKeyConfig(ConfigObject):
    """An API key that may use lookup_api (id: the key's id), so lookup_api verifies keys and
    applies limits without a database.

    ``key_hash`` is the SHA-256 of the key that the database holds too: the key has 256 random
    bits, so its hash reveals nothing usable (:func:`libs.security.hash_token`). The entry is
    deleted when the key is revoked or loses its lookup access.
    """

    kind: ClassVar[str] = "lookupkey"

    lookup_id: str
    key_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    name: str = ""
    #: The owning customer (its keys see only its own routes); ``None``: an operator's key.
    customer_id: uuid.UUID | None = None
    #: CIDR networks the key may be used from (key's and owner's lists; empty: anywhere).
    allowed_sources: list[list[str]] = Field(default_factory=list)
    #: Lookups per second (a batch counts one per number); 0: no limit.
    requests_per_second: Annotated[int, Field(ge=0)] = 0
    #: Lookups per UTC day; 0: no quota.
    daily_quota: Annotated[int, Field(ge=0)] = 0


#: Every key-value kind and its model: what a :class:`~libs.liveconfig.ConfigView` is given.
CONFIG_KINDS: dict[str, type[ConfigObject]] = {
    model.kind: model
    for model in (
        CustomerConfig,
        BalanceConfig,
        CarrierConfig,
        IpAuthConfig,
        SipUserConfig,
        RewriteConfig,
        RouteConfig,
        FirewallConfig,
        SettingsConfig,
        LookupKeyConfig,
    )
}

# -- the rate card blob -----------------------------------------------------------------------

#: First line's ``format`` of a compiled rate card.
RATECARD_BLOB_FORMAT = "tandem.ratecard.v1"


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def json_line(value: Any) -> bytes:
    """``value`` as one compact JSON line (UTF-8, newline-terminated)."""
    return (_ENCODER.encode(value) + "\n").encode()


def encode_rate_card(
    card: dict[str, Any],
    revisions: Iterable[tuple[dict[str, Any], Iterable[tuple[Any, ...]]]],
) -> Iterator[bytes]:
    """Lines of a compiled rate card (JSON Lines, UTF-8), to be joined into the blob.

    1. the card: ``{"format": "tandem.ratecard.v1", "id", "currency", "precision",
       "rounding", "name", "default_increments": "60/60"}``;
    2. per revision, a header ``{"revision": {"id", "effective_from"}}`` followed by one
       array per rate: ``[prefix, destination, rate, connection_fee, initial, subsequent,
       blocked]`` with the amounts as decimal strings.

    About 40 bytes a rate: a 500,000-rate card is ~20 MB, and JSON array lines decode at C
    speed. ``revisions`` are the ones in effect and scheduled (not drafts, not superseded).
    """
    yield json_line({"format": RATECARD_BLOB_FORMAT, **card})
    for header, rates in revisions:
        yield json_line({"revision": header})
        for rate in rates:
            yield json_line(list(rate))


def decode_rate_card(data: bytes) -> dict[str, Any]:
    """A compiled blob back to :func:`libs.routing.parse_rate_card`'s shape."""
    lines = data.splitlines()
    if not lines:
        raise ConfigDecodeError("ratecard blob is empty")
    try:
        head = json.loads(lines[0])
        if head.get("format") != RATECARD_BLOB_FORMAT:
            raise ConfigDecodeError(f"ratecard blob format {head.get('format')!r} unknown")
        card = {k: v for k, v in head.items() if k != "format"}
        revisions: list[dict[str, Any]] = []
        for raw in lines[1:]:
            item = json.loads(raw)
            if isinstance(item, dict):
                revisions.append({**item["revision"], "rates": []})
                continue
            prefix, destination, rate, fee, initial, subsequent, blocked = item
            revisions[-1]["rates"].append(
                {
                    "prefix": prefix,
                    "destination": destination,
                    "rate": rate,
                    "connection_fee": fee,
                    "initial": initial,
                    "subsequent": subsequent,
                    "blocked": blocked,
                }
            )
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ConfigDecodeError(f"ratecard blob is malformed: {exc}") from None
    card["revisions"] = revisions
    return card


def load_rate_card_blob(data: bytes, pointer: BlobPointer) -> dict[str, Any]:
    """A :class:`~libs.liveconfig.ConfigView` blob loader for ``ratecard``."""
    return decode_rate_card(data)
