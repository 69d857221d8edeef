"""The routing model: carriers and their gateways, rate cards with dated revisions, routes.

All objects are frozen, slotted dataclasses validated on construction — plain data in, a
consistent object or :class:`InvalidConfig` out — so a :class:`~libs.routing.RoutingTable` built
from them never has to re-check anything on the call path. Times are aware ``datetime`` s
(revisions take effect at an instant, whatever the server's time zone); durations are seconds.
Money is :class:`~decimal.Decimal` (see :mod:`libs.rating`).
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from random import Random

from libs.rating import (
    MAX_PRECISION,
    BillingIncrements,
    Charge,
    Rate,
    Rounding,
    max_duration_for_balance,
    price,
)
from libs.routing.errors import InvalidConfig, InvalidTime
from libs.routing.patterns import DialPattern, PatternKind
from libs.routing.prefix_index import PrefixIndex, is_digits

__all__ = [
    "Carrier",
    "CarrierStatus",
    "CarrierTimeouts",
    "Gateway",
    "MediaMode",
    "RateCard",
    "RateRevision",
    "Route",
    "RouteCarrier",
    "Strategy",
    "Transport",
    "require_aware",
]

_PER_MINUTE = BillingIncrements(60, 60)
_MAX_TAG = 64  # ids, tech prefixes, names' sanity bound for identifiers


def require_aware(moment: datetime, what: str) -> datetime:
    """``moment`` if it is an aware datetime; :class:`InvalidTime` otherwise."""
    if not isinstance(moment, datetime):
        raise InvalidTime(f"{what} must be a datetime, not {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidTime(f"{what} must be an aware datetime (with a time zone): {moment}")
    return moment


def _identifier(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InvalidConfig(f"{what} must be a non-empty string, not {value!r}")
    return value


def _tech_prefix(value: object, what: str) -> str:
    if (
        not isinstance(value, str)
        or len(value) > _MAX_TAG
        or not value.isprintable()
        or any(char.isspace() for char in value)
    ):
        raise InvalidConfig(f"{what} must be up to {_MAX_TAG} printable characters, not {value!r}")
    return value


def _count(value: object, what: str, *, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum:
        raise InvalidConfig(f"{what} must be an int >= {minimum}, not {value!r}")
    return value


# -- carriers ---------------------------------------------------------------------------------


class CarrierStatus(StrEnum):
    """Whether a carrier takes calls."""

    ACTIVE = "active"
    DISABLED = "disabled"


class Transport(StrEnum):
    """How SIP reaches a gateway."""

    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


@dataclass(frozen=True, slots=True)
class Gateway:
    """One of a carrier's SIP gateways; ``weight`` shares calls among them (0 = drained)."""

    id: str
    host: str
    port: int = 5060
    transport: Transport = Transport.UDP
    weight: int = 1

    def __post_init__(self) -> None:
        _identifier(self.id, "gateway id")
        _identifier(self.host, f"gateway {self.id} host")
        if type(self.port) is not int or not 1 <= self.port <= 65535:
            raise InvalidConfig(f"gateway {self.id} port must be 1-65535, not {self.port!r}")
        object.__setattr__(self, "transport", Transport(self.transport))
        _count(self.weight, f"gateway {self.id} weight")


@dataclass(frozen=True, slots=True)
class CarrierTimeouts:
    """Seconds sip_core waits for a carrier, per attempt, before failing over (as a 408).

    ``first_reply``: any response to the INVITE (usually 100 Trying) — well below RFC 3261's
    32 s Timer B, so a dead carrier costs little; ``post_dial_delay``: a ringing/progress
    response (18x); ``ring``: the answer once ringing.
    """

    first_reply: float = 3.0
    post_dial_delay: float = 15.0
    ring: float = 120.0

    def __post_init__(self) -> None:
        for name in ("first_reply", "post_dial_delay", "ring"):
            value = getattr(self, name)
            if type(value) not in (int, float) or not 0 < value <= 3600:
                raise InvalidConfig(f"timeout {name} must be seconds in (0, 3600], not {value!r}")
            object.__setattr__(self, name, float(value))


def _status_codes(codes: Iterable[int], what: str) -> frozenset[int]:
    result = frozenset(codes)
    for code in result:
        if type(code) is not int or not 300 <= code <= 699:
            raise InvalidConfig(f"{what} must be final non-2xx SIP statuses (300-699): {code!r}")
    return result


@dataclass(frozen=True, slots=True)
class Carrier:
    """A carrier calls are terminated on: its buy rate card, limits, timeouts and gateways.

    ``failover_codes`` / ``stop_codes`` override :func:`~libs.routing.next_action`'s defaults for
    this carrier; ``tech_prefix`` is put in front of the number sent to it. ``channel_limit``
    and ``cps_limit`` are 0 for "no limit at this level".
    """

    id: str
    name: str
    rate_card_id: str
    gateways: tuple[Gateway, ...] = ()
    status: CarrierStatus = CarrierStatus.ACTIVE
    tech_prefix: str = ""
    channel_limit: int = 0
    cps_limit: int = 0
    timeouts: CarrierTimeouts = CarrierTimeouts()
    failover_codes: frozenset[int] = frozenset()
    stop_codes: frozenset[int] = frozenset()
    #: Gateways that can be chosen (weight > 0) and their running weight totals.
    _selectable: tuple[Gateway, ...] = field(init=False, repr=False, compare=False)
    _cumulative: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _identifier(self.id, "carrier id")
        if not isinstance(self.name, str):
            raise InvalidConfig(f"carrier {self.id} name must be a string")
        _identifier(self.rate_card_id, f"carrier {self.id} rate_card_id")
        object.__setattr__(self, "status", CarrierStatus(self.status))
        object.__setattr__(self, "gateways", tuple(self.gateways))
        if not all(isinstance(gateway, Gateway) for gateway in self.gateways):
            raise InvalidConfig(f"carrier {self.id} gateways must be Gateway objects")
        ids = [gateway.id for gateway in self.gateways]
        if len(set(ids)) != len(ids):
            raise InvalidConfig(f"carrier {self.id} has two gateways with the same id")
        _tech_prefix(self.tech_prefix, f"carrier {self.id} tech_prefix")
        _count(self.channel_limit, f"carrier {self.id} channel_limit")
        _count(self.cps_limit, f"carrier {self.id} cps_limit")
        if not isinstance(self.timeouts, CarrierTimeouts):
            raise InvalidConfig(f"carrier {self.id} timeouts must be CarrierTimeouts")
        failover = _status_codes(self.failover_codes, f"carrier {self.id} failover_codes")
        stop = _status_codes(self.stop_codes, f"carrier {self.id} stop_codes")
        if failover & stop:
            raise InvalidConfig(
                f"carrier {self.id}: codes {sorted(failover & stop)} are both failover and stop"
            )
        object.__setattr__(self, "failover_codes", failover)
        object.__setattr__(self, "stop_codes", stop)
        selectable = tuple(gateway for gateway in self.gateways if gateway.weight > 0)
        object.__setattr__(self, "_selectable", selectable)
        object.__setattr__(
            self, "_cumulative", tuple(itertools.accumulate(g.weight for g in selectable))
        )

    @property
    def active(self) -> bool:
        """True if the carrier takes calls."""
        return self.status is CarrierStatus.ACTIVE

    @property
    def selectable_gateways(self) -> tuple[Gateway, ...]:
        """The gateways calls can be sent to: those with a weight above zero."""
        return self._selectable

    def pick_gateway(self, rng: Random) -> Gateway | None:
        """A gateway chosen at random in proportion to the weights (``None`` if none has one)."""
        selectable = self._selectable
        if len(selectable) <= 1:
            return selectable[0] if selectable else None
        cumulative = self._cumulative
        return selectable[bisect_right(cumulative, rng.random() * cumulative[-1])]


# -- rate cards -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class RateRevision:
    """A rate card's rates from ``effective_from`` on (until the next revision takes effect)."""

    id: str
    effective_from: datetime
    rates: PrefixIndex[Rate]

    def __post_init__(self) -> None:
        _identifier(self.id, "revision id")
        require_aware(self.effective_from, f"revision {self.id} effective_from")
        if not isinstance(self.rates, PrefixIndex):
            raise InvalidConfig(f"revision {self.id} rates must be a PrefixIndex of Rate")

    @classmethod
    def build(cls, id: str, effective_from: datetime, rates: Iterable[Rate]) -> RateRevision:
        """A revision indexing ``rates`` by their prefixes (a prefix twice is refused)."""
        return cls(id, effective_from, PrefixIndex((rate.prefix, rate) for rate in rates))


@dataclass(frozen=True, slots=True, eq=False)
class RateCard:
    """A sell card (a customer's prices) or a buy card (a carrier's costs).

    ``precision`` (decimal places) and ``rounding`` apply to charges; ``default_increments``
    is what rates without their own increments were given when the card was loaded. Of the
    ``revisions`` (any order), the one in effect at an instant is the latest whose
    ``effective_from`` is not after it; earlier ones are kept for re-rating old calls.
    """

    id: str
    currency: str
    revisions: tuple[RateRevision, ...]
    precision: int = 4
    rounding: Rounding = Rounding.HALF_UP
    default_increments: BillingIncrements = _PER_MINUTE
    name: str = ""
    _starts: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _identifier(self.id, "rate card id")
        if not (
            isinstance(self.currency, str)
            and len(self.currency) == 3
            and self.currency.isascii()
            and self.currency.isalpha()
            and self.currency.isupper()
        ):
            raise InvalidConfig(
                f"rate card {self.id} currency must be ISO 4217, not {self.currency!r}"
            )
        if type(self.precision) is not int or not 0 <= self.precision <= MAX_PRECISION:
            raise InvalidConfig(
                f"rate card {self.id} precision must be 0-{MAX_PRECISION}, not {self.precision!r}"
            )
        object.__setattr__(self, "rounding", Rounding.parse(self.rounding))
        if not isinstance(self.default_increments, BillingIncrements):
            raise InvalidConfig(f"rate card {self.id} default_increments must be BillingIncrements")
        revisions = tuple(sorted(self.revisions, key=lambda revision: revision.effective_from))
        if not all(isinstance(revision, RateRevision) for revision in revisions):
            raise InvalidConfig(f"rate card {self.id} revisions must be RateRevision objects")
        starts = tuple(revision.effective_from.timestamp() for revision in revisions)
        if len(set(starts)) != len(starts):
            raise InvalidConfig(f"rate card {self.id} has two revisions taking effect at once")
        object.__setattr__(self, "revisions", revisions)
        object.__setattr__(self, "_starts", starts)

    def active_revision(self, now: datetime) -> RateRevision | None:
        """The revision in effect at ``now`` (aware), or ``None`` before the first one."""
        return self.revision_at(require_aware(now, "now").timestamp())

    def revision_at(self, timestamp: float) -> RateRevision | None:
        """:meth:`active_revision` for a POSIX timestamp (the hot path converts ``now`` once)."""
        index = bisect_right(self._starts, timestamp) - 1
        return self.revisions[index] if index >= 0 else None

    def lookup(self, number: str, now: datetime) -> Rate | None:
        """The longest-prefix rate for ``number`` in the revision in effect at ``now``."""
        revision = self.active_revision(now)
        return None if revision is None else revision.rates.lookup(number)

    def price(
        self, call_seconds: int | Decimal, rate: Rate, *, answered: bool | None = None
    ) -> Charge:
        """:func:`libs.rating.price` with this card's precision and rounding."""
        return price(
            call_seconds, rate, precision=self.precision, rounding=self.rounding, answered=answered
        )

    def max_duration_for_balance(self, available: Decimal, rate: Rate) -> int | None:
        """:func:`libs.rating.max_duration_for_balance` with this card's precision and rounding."""
        return max_duration_for_balance(
            available, rate, precision=self.precision, rounding=self.rounding
        )


# -- routes -----------------------------------------------------------------------------------


class Strategy(StrEnum):
    """How a route orders its carriers."""

    #: Cheapest buy rate first; ties by connection fee, then priority, then carrier id.
    LEAST_COST = "least_cost"
    #: The route's carrier priorities (lower first); ties by cost, then carrier id.
    PRIORITY = "priority"
    #: Random by weight (without replacement); weight-0 carriers last, by cost.
    WEIGHTED = "weighted"


class MediaMode(StrEnum):
    """Where a call's media flows."""

    #: Relayed through an rtp_relay of the media zone (topology hidden, NAT latching).
    PROXY = "proxy"
    #: Directly between customer and carrier (the SDP is passed through).
    BYPASS = "bypass"


@dataclass(frozen=True, slots=True)
class RouteCarrier:
    """A carrier a route may use, with its priority (lower first) and weight."""

    carrier_id: str
    priority: int = 0
    weight: int = 1

    def __post_init__(self) -> None:
        _identifier(self.carrier_id, "route carrier id")
        if type(self.priority) is not int:
            raise InvalidConfig(f"carrier {self.carrier_id} priority must be an int")
        _count(self.weight, f"carrier {self.carrier_id} weight")


_EVERY_NUMBER = DialPattern(PatternKind.PREFIX, "")


@dataclass(frozen=True, slots=True)
class Route:
    """A customer's ingress route: which calls it takes and how they are sold and terminated.

    A call matches when its tech prefix equals ``tech_prefix`` (an empty one matches any call,
    after routes with a matching tech prefix), its dialled number matches ``dial_pattern`` and,
    if set, its CLI matches ``cli_pattern``. See :meth:`RoutingTable.plan` for the precedence.

    ``carriers`` empty means every carrier of the table; ``excluded_carriers`` are never used.
    ``max_duration`` is seconds (``None`` = no cap at this level); limits are 0 for "none".
    """

    id: str
    customer_id: str
    rate_card_id: str
    dial_pattern: DialPattern = _EVERY_NUMBER
    strategy: Strategy = Strategy.LEAST_COST
    carriers: tuple[RouteCarrier, ...] = ()
    excluded_carriers: frozenset[str] = frozenset()
    tech_prefix: str = ""
    cli_pattern: DialPattern | None = None
    allow_below_cost: bool = False
    max_duration: int | None = None
    media_zone: str | None = None
    media_mode: MediaMode = MediaMode.PROXY
    channel_limit: int = 0
    cps_limit: int = 0
    #: Operator's order among a customer's routes of equal tech-prefix match (lower first).
    priority: int = 0

    def __post_init__(self) -> None:
        _identifier(self.id, "route id")
        _identifier(self.customer_id, f"route {self.id} customer_id")
        _identifier(self.rate_card_id, f"route {self.id} rate_card_id")
        if not isinstance(self.dial_pattern, DialPattern):
            raise InvalidConfig(f"route {self.id} dial_pattern must be a DialPattern")
        if self.dial_pattern.kind is PatternKind.PREFIX and not (
            self.dial_pattern.value == "" or is_digits(self.dial_pattern.value)
        ):
            raise InvalidConfig(f"route {self.id} dial prefix must be digits")
        if self.cli_pattern is not None and not isinstance(self.cli_pattern, DialPattern):
            raise InvalidConfig(f"route {self.id} cli_pattern must be a DialPattern")
        object.__setattr__(self, "strategy", Strategy(self.strategy))
        object.__setattr__(self, "media_mode", MediaMode(self.media_mode))
        object.__setattr__(self, "carriers", tuple(self.carriers))
        if not all(isinstance(carrier, RouteCarrier) for carrier in self.carriers):
            raise InvalidConfig(f"route {self.id} carriers must be RouteCarrier objects")
        ids = [carrier.carrier_id for carrier in self.carriers]
        if len(set(ids)) != len(ids):
            raise InvalidConfig(f"route {self.id} lists a carrier twice")
        object.__setattr__(self, "excluded_carriers", frozenset(self.excluded_carriers))
        _tech_prefix(self.tech_prefix, f"route {self.id} tech_prefix")
        if type(self.allow_below_cost) is not bool:
            raise InvalidConfig(f"route {self.id} allow_below_cost must be a bool")
        if self.max_duration is not None:
            _count(self.max_duration, f"route {self.id} max_duration", minimum=1)
        if self.media_zone is not None and not isinstance(self.media_zone, str):
            raise InvalidConfig(f"route {self.id} media_zone must be a string")
        _count(self.channel_limit, f"route {self.id} channel_limit")
        _count(self.cps_limit, f"route {self.id} cps_limit")
        if type(self.priority) is not int:
            raise InvalidConfig(f"route {self.id} priority must be an int")
