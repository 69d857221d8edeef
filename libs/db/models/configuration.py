"""The switch's configuration: carriers, authentication, rate cards, routes, firewall, settings.

Every row here is published to the live configuration bucket after its commit (see
``libs.liveconfig.snapshot``), so each configurable model carries a ``version`` that increases
with every update: consumers ignore a publish older than what they hold.

Secrets: SIP passwords exist only as digest HA1 hashes (``info=SECRET``); a carrier gateway's
egress password is an AES-GCM ciphertext (sip_core must answer the carrier's 407 with it, so a
one-way hash will not do).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from libs.db.base import SECRET, UNAUDITED, Base, TimestampedMixin, UUIDPrimaryKeyMixin
from libs.db.types import Money, UTCDateTime

__all__ = [
    "SETTINGS_ID",
    "Carrier",
    "CarrierStatus",
    "Direction",
    "FirewallAction",
    "FirewallRule",
    "FirewallSource",
    "IpAuthEntry",
    "MatchKind",
    "MediaMode",
    "NatPing",
    "PaiPolicy",
    "Rate",
    "RateCard",
    "RateCardDirection",
    "RateCardRevision",
    "RewriteRule",
    "RewriteTarget",
    "Route",
    "RoutingStrategy",
    "SipTransport",
    "SipUser",
    "SwitchSettings",
]

#: The one row of :class:`SwitchSettings` (and the id of its ``settings`` config object).
SETTINGS_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")

#: Rates and fees keep 8 decimal places (open rate cards allow up to 10; 8 covers real decks).
RATE_SCALE = 8


def _enum(enum: type[StrEnum], length: int = 16) -> Enum:
    return Enum(
        enum,
        native_enum=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class _Versioned:
    #: Bumped on every update: the config object's version (consumers drop older publishes).
    version: Mapped[int] = mapped_column(Integer, default=1, info=UNAUDITED)


class CarrierStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class PaiPolicy(StrEnum):
    """What sip_core sends a carrier as P-Asserted-Identity (RFC 3325)."""

    #: Pass the customer's P-Asserted-Identity through unchanged (if any).
    PASS = "pass"  # noqa: S105 - a policy name, not a password
    #: Remove it (the carrier is outside the trust domain).
    STRIP = "strip"
    #: Set it from the call's CLI (carriers that require a PAI).
    FROM_CLI = "from_cli"


class Direction(StrEnum):
    """An authentication entry's direction, seen from the remote switch (the reference's words)."""

    #: The remote switch sends calls to us (we authenticate its INVITEs by source address).
    INGRESS = "ingress"
    #: The remote switch receives calls from us (a carrier gateway, a customer's PBX for DIDs).
    EGRESS = "egress"


class SipTransport(StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"
    #: SIP over TLS and SRTP media.
    TLS_SRTP = "tls_srtp"


class NatPing(StrEnum):
    """The reference's NAT/SIP ping modes (OPTIONS every 60 s through the customer's NAT)."""

    DISABLED = "disabled"
    ENABLED = "enabled"
    #: Ping, and end the registration/call when the pings go unanswered.
    ENABLED_TIMEOUT = "enabled_timeout"


class RewriteTarget(StrEnum):
    DESTINATION = "destination"
    CLI = "cli"


class MatchKind(StrEnum):
    PREFIX = "prefix"
    REGEX = "regex"


class RateCardDirection(StrEnum):
    #: What customers pay (a route's card).
    SELL = "sell"
    #: What a carrier charges (a carrier's card).
    BUY = "buy"


class RoutingStrategy(StrEnum):
    LEAST_COST = "least_cost"
    PRIORITY = "priority"
    WEIGHTED = "weighted"


class MediaMode(StrEnum):
    PROXY = "proxy"
    BYPASS = "bypass"


class FirewallAction(StrEnum):
    BLOCK = "block"
    ALLOW = "allow"
    #: Allowed and exempt from flood protection.
    TRUSTED = "trusted"


class FirewallSource(StrEnum):
    MANUAL = "manual"
    #: Added by threat detection (floods, scanners, authentication failures).
    AUTOMATIC = "automatic"


class RateCard(UUIDPrimaryKeyMixin, TimestampedMixin, _Versioned, Base):
    """A sell or buy card: currency, rounding, default increments; its rates are in revisions."""

    __tablename__ = "rate_cards"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    direction: Mapped[RateCardDirection] = mapped_column(_enum(RateCardDirection))
    currency: Mapped[str] = mapped_column(String(3))
    #: Decimal places of a call's charge.
    precision: Mapped[int] = mapped_column(Integer, default=4)
    #: A :class:`libs.rating.Rounding` value.
    rounding: Mapped[str] = mapped_column(String(16), default="half_up")
    default_initial: Mapped[int] = mapped_column(Integer, default=60)
    default_subsequent: Mapped[int] = mapped_column(Integer, default=60)
    description: Mapped[str] = mapped_column(Text, default="")

    __mapper_args__ = {"version_id_col": _Versioned.version}


class RateCardRevision(UUIDPrimaryKeyMixin, TimestampedMixin, _Versioned, Base):
    """A card's rates from ``effective_from`` on; ``None`` is a draft (never in effect)."""

    __tablename__ = "rate_card_revisions"
    __table_args__ = (UniqueConstraint("rate_card_id", "effective_from"),)

    rate_card_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("rate_cards.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    effective_from: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    rate_count: Mapped[int] = mapped_column(Integer, default=0, info=UNAUDITED)

    __mapper_args__ = {"version_id_col": _Versioned.version}


class Rate(Base):
    """One prefix of a revision. Imports write these in bulk (audited as one import entry)."""

    __tablename__ = "rates"
    __audited__ = False

    revision_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("rate_card_revisions.id", ondelete="CASCADE"), primary_key=True
    )
    prefix: Mapped[str] = mapped_column(String(32), primary_key=True)
    destination: Mapped[str] = mapped_column(String(200), default="")
    rate: Mapped[Decimal] = mapped_column(Money(scale=RATE_SCALE))
    connection_fee: Mapped[Decimal] = mapped_column(Money(scale=RATE_SCALE), default=Decimal(0))
    initial_increment: Mapped[int] = mapped_column(Integer)
    subsequent_increment: Mapped[int] = mapped_column(Integer)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)


class Carrier(UUIDPrimaryKeyMixin, TimestampedMixin, _Versioned, Base):
    """A carrier calls terminate on; its gateways are its egress :class:`IpAuthEntry` rows."""

    __tablename__ = "carriers"
    __table_args__ = (
        CheckConstraint("channel_limit >= 0", name="channel_limit_not_negative"),
        CheckConstraint("cps_limit >= 0", name="cps_limit_not_negative"),
    )

    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[CarrierStatus] = mapped_column(
        _enum(CarrierStatus), default=CarrierStatus.ACTIVE
    )
    #: The buy card (what the carrier charges): least-cost routing compares these.
    rate_card_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("rate_cards.id", ondelete="RESTRICT"), index=True, default=None
    )
    channel_limit: Mapped[int] = mapped_column(Integer, default=0)
    cps_limit: Mapped[int] = mapped_column(Integer, default=0)
    first_reply_timeout: Mapped[float] = mapped_column(Float, default=3.0)
    post_dial_delay_timeout: Mapped[float] = mapped_column(Float, default=15.0)
    ring_timeout: Mapped[float] = mapped_column(Float, default=120.0)
    failover_codes: Mapped[list[int]] = mapped_column(JSON, default=list)
    stop_codes: Mapped[list[int]] = mapped_column(JSON, default=list)
    tech_prefix: Mapped[str] = mapped_column(String(64), default="")
    pai_policy: Mapped[PaiPolicy] = mapped_column(_enum(PaiPolicy), default=PaiPolicy.PASS)
    notes: Mapped[str] = mapped_column(Text, default="")

    __mapper_args__ = {"version_id_col": _Versioned.version}


class IpAuthEntry(UUIDPrimaryKeyMixin, TimestampedMixin, _Versioned, Base):
    """IP authentication of a customer's or a carrier's switch (a carrier's egress entries are
    its gateways)."""

    __tablename__ = "ip_auth_entries"
    __table_args__ = (
        CheckConstraint("(customer_id IS NULL) <> (carrier_id IS NULL)", name="one_owner"),
    )

    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True, default=None
    )
    carrier_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("carriers.id", ondelete="CASCADE"), index=True, default=None
    )
    #: An IP address, a CIDR network, or (egress only) a host name.
    address: Mapped[str] = mapped_column(String(255))
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    port: Mapped[int] = mapped_column(Integer, default=5060)
    transport: Mapped[SipTransport] = mapped_column(_enum(SipTransport), default=SipTransport.UDP)
    tech_prefix: Mapped[str] = mapped_column(String(64), default="")
    cli_auth: Mapped[bool] = mapped_column(Boolean, default=False)
    channel_limit: Mapped[int] = mapped_column(Integer, default=0)
    cps_limit: Mapped[int] = mapped_column(Integer, default=0)
    force_nat: Mapped[bool] = mapped_column(Boolean, default=False)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    username: Mapped[str | None] = mapped_column(String(128), default=None)
    #: AES-GCM ciphertext (``libs.security.crypto``) of the egress password.
    password_ciphertext: Mapped[str | None] = mapped_column(Text, default=None, info=SECRET)
    restricted_codecs: Mapped[list[str]] = mapped_column(JSON, default=list)
    media_zone_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("zones.id", ondelete="SET NULL"), index=True, default=None
    )
    description: Mapped[str] = mapped_column(Text, default="")

    __mapper_args__ = {"version_id_col": _Versioned.version}


class SipUser(UUIDPrimaryKeyMixin, TimestampedMixin, _Versioned, Base):
    """A customer's SIP account (digest authentication); the password exists only as HA1s."""

    __tablename__ = "sip_users"
    __table_args__ = (UniqueConstraint("customer_id", "username"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    username: Mapped[str] = mapped_column(String(64))
    #: The realm the HA1s were computed in (the global SIP realm at the time).
    realm: Mapped[str] = mapped_column(String(128))
    ha1_md5: Mapped[str] = mapped_column(String(32), info=SECRET)
    ha1_sha256: Mapped[str] = mapped_column(String(64), info=SECRET)
    channel_limit: Mapped[int] = mapped_column(Integer, default=0)
    cps_limit: Mapped[int] = mapped_column(Integer, default=0)
    allowed_sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Concurrent calls allowed from addresses outside ``allowed_sources`` (0 = none).
    calls_outside_allow_list: Mapped[int] = mapped_column(Integer, default=0)
    nat_ping: Mapped[NatPing] = mapped_column(_enum(NatPing), default=NatPing.DISABLED)
    retain_did: Mapped[bool] = mapped_column(Boolean, default=False)
    transport: Mapped[SipTransport] = mapped_column(_enum(SipTransport), default=SipTransport.UDP)
    restricted_codecs: Mapped[list[str]] = mapped_column(JSON, default=list)

    __mapper_args__ = {"version_id_col": _Versioned.version}


class RewriteRule(UUIDPrimaryKeyMixin, TimestampedMixin, _Versioned, Base):
    """A parameter rewrite rule of an IP authentication entry or of a SIP user."""

    __tablename__ = "rewrite_rules"
    __table_args__ = (
        CheckConstraint("(ip_auth_id IS NULL) <> (sip_user_id IS NULL)", name="one_owner"),
    )

    ip_auth_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("ip_auth_entries.id", ondelete="CASCADE"), index=True, default=None
    )
    sip_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("sip_users.id", ondelete="CASCADE"), index=True, default=None
    )
    target: Mapped[RewriteTarget] = mapped_column(_enum(RewriteTarget))
    kind: Mapped[MatchKind] = mapped_column(_enum(MatchKind))
    match: Mapped[str] = mapped_column(String(1024))
    replacement: Mapped[str] = mapped_column(String(1024), default="")
    #: The API's ``order`` (a reserved word in SQL).
    position: Mapped[int] = mapped_column(Integer, default=0)

    __mapper_args__ = {"version_id_col": _Versioned.version}


class Route(UUIDPrimaryKeyMixin, TimestampedMixin, _Versioned, Base):
    """A customer's ingress route: which calls, sold on which card, sent to which carriers."""

    __tablename__ = "routes"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    tech_prefix: Mapped[str] = mapped_column(String(64), default="")
    dial_kind: Mapped[MatchKind] = mapped_column(_enum(MatchKind), default=MatchKind.PREFIX)
    dial_pattern: Mapped[str] = mapped_column(String(1024), default="")
    cli_kind: Mapped[MatchKind | None] = mapped_column(_enum(MatchKind), default=None)
    cli_pattern: Mapped[str | None] = mapped_column(String(1024), default=None)
    #: The sell card.
    rate_card_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("rate_cards.id", ondelete="RESTRICT"), index=True
    )
    strategy: Mapped[RoutingStrategy] = mapped_column(
        _enum(RoutingStrategy), default=RoutingStrategy.LEAST_COST
    )
    #: ``[{"carrier_id": "…", "priority": 0, "weight": 1}]``; empty means every carrier.
    carriers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    excluded_carrier_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    media_zone_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("zones.id", ondelete="SET NULL"), index=True, default=None
    )
    media_mode: Mapped[MediaMode] = mapped_column(_enum(MediaMode), default=MediaMode.PROXY)
    max_duration: Mapped[int | None] = mapped_column(Integer, default=None)
    channel_limit: Mapped[int] = mapped_column(Integer, default=0)
    cps_limit: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    allow_below_cost: Mapped[bool] = mapped_column(Boolean, default=False)

    __mapper_args__ = {"version_id_col": _Versioned.version}


class FirewallRule(UUIDPrimaryKeyMixin, TimestampedMixin, _Versioned, Base):
    """Block, allow or trust a source address or network, optionally until ``expires_at``."""

    __tablename__ = "firewall_rules"

    network: Mapped[str] = mapped_column(String(64), unique=True)
    action: Mapped[FirewallAction] = mapped_column(_enum(FirewallAction))
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[FirewallSource] = mapped_column(
        _enum(FirewallSource), default=FirewallSource.MANUAL
    )
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    #: What an automatic block was based on (the IDS worker's counts, samples, node reports).
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: How many times the IDS worker has blocked this network (the expiry grows with it).
    offences: Mapped[int] = mapped_column(Integer, default=0)

    __mapper_args__ = {"version_id_col": _Versioned.version}


class SwitchSettings(TimestampedMixin, _Versioned, Base):
    """The platform-wide settings: one row, id :data:`SETTINGS_ID`."""

    __tablename__ = "switch_settings"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=lambda: SETTINGS_ID)
    #: Concurrent calls on the whole platform (0 = no limit).
    platform_channel_limit: Mapped[int] = mapped_column(Integer, default=0)
    #: SIP requests one source may send per window before it is blocked.
    flood_max_requests: Mapped[int] = mapped_column(Integer, default=200)
    flood_window_seconds: Mapped[int] = mapped_column(Integer, default=10)
    flood_block_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    #: Failed digest authentications from one source per window before it is blocked.
    auth_failure_max: Mapped[int] = mapped_column(Integer, default=10)
    auth_failure_window_seconds: Mapped[int] = mapped_column(Integer, default=300)
    auth_failure_block_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    first_reply_timeout: Mapped[float] = mapped_column(Float, default=3.0)
    post_dial_delay_timeout: Mapped[float] = mapped_column(Float, default=15.0)
    ring_timeout: Mapped[float] = mapped_column(Float, default=120.0)
    #: The digest realm of SIP users' challenges (their HA1s depend on it).
    sip_realm: Mapped[str] = mapped_column(String(128), default="tandem")

    __mapper_args__ = {"version_id_col": _Versioned.version}
