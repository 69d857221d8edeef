"""The routing table: an immutable snapshot of carriers, rate cards and routes, and :meth:`plan`.

:meth:`RoutingTable.plan` is the one routing decision of the platform: sip_core calls it for
every call and lookup_api's route lookup calls it too, so a lookup and a real call agree.

Planning a call
    1. The dialled number must be ASCII digits (rewrite rules run before; ``+`` is theirs to strip).
    2. **Route**: the first of the customer's routes, in precedence order, whose tech prefix,
       dial pattern and CLI pattern match. Precedence: routes with the call's tech prefix before
       routes with none; then the operator's ``priority`` (lower first); then the longer literal
       dial prefix; then regex patterns before the empty (catch-all) prefix; then route id.
    3. **Sell rate**: longest-prefix match on the route's sell card, in the revision in effect
       at ``now``; none → refusal *no rate*; a blocked rate → refusal *blocked*.
    4. **Carriers**: the route's carriers (all of the table's when it lists none) minus the
       excluded ones, those disabled, without a buy card (or one in another currency), without
       a gateway of non-zero weight, without a buy rate for the number (or a blocked one), and
       — unless the route allows selling below cost — those whose buy rate per minute exceeds
       the sell rate per minute. Each is listed in ``dropped`` with its reason.
    5. **Order** (:class:`~libs.routing.Strategy`): least cost — buy rate per minute, then
       connection fee, then the route's priority, then carrier id (deterministic: equal offers
       always come in the same order); priority — the route's priority, then cost, then id;
       weighted — a weighted random order drawn from the caller's ``random.Random``
       (Efraimidis-Spirakis keys ``u ** (1 / weight)``: carrier *i* comes first with probability
       ``wᵢ / Σw``), weight-0 carriers last in least-cost order.
    6. **Gateway**: one per carrier, by gateway weight, from the same ``rng``.

The results (:class:`RoutingPlan`, :class:`RoutingRefusal`, :class:`Attempt`,
:class:`DroppedCarrier`) are named tuples: immutable like the model's frozen dataclasses, and
built several times per call at a fraction of a frozen dataclass's construction cost.

Refusals and the SIP status the B2BUA answers (:class:`RefusalReason`)
    ==================  =====  ============================================================
    reason              SIP    why this status
    ==================  =====  ============================================================
    invalid_number      484    Address Incomplete: not a diallable number (RFC 3261 §21.4.22)
    no_route            404    no route of this customer takes the number (§21.4.5)
    no_rate             404    the destination is not on the customer's price list
    blocked             403    the operator forbids the destination (§21.4.4): final, no retry
    no_rate_card        503    the route's sell card is missing or not yet in effect: an
                               operator error, temporary — the customer may try elsewhere
    no_carrier          503    no usable carrier (none priced, all disabled, all below cost):
                               503 makes a wholesale customer's switch fail over to its next
                               provider (§21.5.4)
    ==================  =====  ============================================================
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol, TypeVar

from libs.rating import Rate
from libs.routing.errors import InvalidConfig
from libs.routing.model import (
    Carrier,
    Gateway,
    MediaMode,
    RateCard,
    Route,
    RouteCarrier,
    Strategy,
    require_aware,
)
from libs.routing.patterns import PatternKind
from libs.routing.prefix_index import is_digits

__all__ = [
    "Attempt",
    "DropReason",
    "DroppedCarrier",
    "PlanResult",
    "RefusalReason",
    "RoutingPlan",
    "RoutingRefusal",
    "RoutingTable",
]


class RefusalReason(StrEnum):
    """Why a call cannot be routed; :attr:`sip_status` is what the B2BUA answers."""

    INVALID_NUMBER = "invalid_number"
    NO_ROUTE = "no_route"
    NO_RATE = "no_rate"
    BLOCKED = "blocked"
    NO_RATE_CARD = "no_rate_card"
    NO_CARRIER = "no_carrier"

    @property
    def sip_status(self) -> int:
        """The SIP final response code for this refusal (see the module's table)."""
        return _SIP_ANSWERS[self][0]

    @property
    def sip_reason(self) -> str:
        """The reason phrase to send with :attr:`sip_status`."""
        return _SIP_ANSWERS[self][1]


_SIP_ANSWERS: dict[RefusalReason, tuple[int, str]] = {
    RefusalReason.INVALID_NUMBER: (484, "Address Incomplete"),
    RefusalReason.NO_ROUTE: (404, "No Route"),
    RefusalReason.NO_RATE: (404, "No Rate"),
    RefusalReason.BLOCKED: (403, "Destination Blocked"),
    RefusalReason.NO_RATE_CARD: (503, "Service Unavailable"),
    RefusalReason.NO_CARRIER: (503, "No Carrier Available"),
}


class DropReason(StrEnum):
    """Why a route's carrier is not among a plan's attempts."""

    EXCLUDED = "excluded"
    UNKNOWN_CARRIER = "unknown_carrier"
    DISABLED = "disabled"
    NO_BUY_CARD = "no_buy_card"
    CURRENCY_MISMATCH = "currency_mismatch"
    NO_GATEWAY = "no_gateway"
    NO_BUY_RATE = "no_buy_rate"
    BUY_RATE_BLOCKED = "buy_rate_blocked"
    BELOW_COST = "below_cost"


class DroppedCarrier(NamedTuple):
    """A carrier left out of a plan, and why (with its buy rate when it had one)."""

    carrier_id: str
    reason: DropReason
    buy_rate: Rate | None = None


class Attempt(NamedTuple):
    """One carrier to try, in order: where to send the call and what it costs and earns."""

    carrier: Carrier
    gateway: Gateway
    buy_rate: Rate
    sell_rate: Rate
    #: Sell rate per minute minus buy rate per minute (negative only if the route allows it).
    margin: Decimal
    #: The number as sent to the carrier: its tech prefix, then the dialled number.
    number: str


class RoutingPlan(NamedTuple):
    """How to route a call: the route, the sell rate and the carriers to try in order."""

    route: Route
    sell_card: RateCard
    sell_rate: Rate
    attempts: tuple[Attempt, ...]
    dropped: tuple[DroppedCarrier, ...]
    dialled: str
    cli: str
    tech_prefix: str

    @property
    def media_zone(self) -> str | None:
        """The route's media zone (``None``: the zone of the sip_core handling the call)."""
        return self.route.media_zone

    @property
    def media_mode(self) -> MediaMode:
        """Whether media is relayed or flows directly."""
        return self.route.media_mode

    def duration_cap(self, available: Decimal | None) -> int | None:
        """The call's maximum duration in seconds: the route's cap and what ``available`` buys.

        ``available`` is balance plus debit limit (``None`` to ignore balance, e.g. postpaid
        without limit). ``None`` means no cap; ``0`` means the call must be refused.
        """
        caps = [self.route.max_duration] if self.route.max_duration is not None else []
        if available is not None:
            affordable = self.sell_card.max_duration_for_balance(available, self.sell_rate)
            if affordable is not None:
                caps.append(affordable)
        return min(caps) if caps else None


class RoutingRefusal(NamedTuple):
    """A call that cannot be routed: the reason, and the SIP answer the B2BUA gives."""

    reason: RefusalReason
    detail: str
    route: Route | None = None
    sell_rate: Rate | None = None
    dropped: tuple[DroppedCarrier, ...] = ()

    @property
    def sip_status(self) -> int:
        """The SIP final response code to answer with."""
        return self.reason.sip_status

    @property
    def sip_reason(self) -> str:
        """The reason phrase to answer with."""
        return self.reason.sip_reason


PlanResult = RoutingPlan | RoutingRefusal


class _Candidate:
    """A route's carrier whose configuration allows it; the call decides the rest."""

    __slots__ = ("card", "carrier", "entry")

    def __init__(self, entry: RouteCarrier, carrier: Carrier, card: RateCard) -> None:
        self.entry = entry
        self.carrier = carrier
        self.card = card


class _CompiledRoute:
    """A route with its references resolved when the table was built."""

    __slots__ = ("candidates", "route", "sell_card", "static_drops")

    def __init__(
        self,
        route: Route,
        sell_card: RateCard | None,
        candidates: tuple[_Candidate, ...],
        static_drops: tuple[DroppedCarrier, ...],
    ) -> None:
        self.route = route
        self.sell_card = sell_card
        self.candidates = candidates
        self.static_drops = static_drops


def _precedence(route: Route) -> tuple[int, int, int, int, str]:
    pattern = route.dial_pattern
    return (
        0 if route.tech_prefix else 1,
        route.priority,
        -pattern.specificity,
        0 if pattern.kind is PatternKind.REGEX else 1,
        route.id,
    )


# Routing choices need spread, not secrecy: a seeded PRNG is what makes plans reproducible.
_SYSTEM_RANDOM = random.Random()  # noqa: S311


class RoutingTable:
    """An immutable snapshot of every carrier, rate card and route; plans calls.

    References are resolved when the table is built. A dangling one (a route naming a card or a
    carrier that is not there — e.g. while configuration updates are still arriving) does not
    stop the build: it is listed in :attr:`problems` and shows in plans as a refusal or a
    dropped carrier. Duplicate ids are refused with :class:`InvalidConfig`.
    """

    __slots__ = ("_by_customer", "_cards", "_carriers", "_problems", "_routes")

    def __init__(
        self,
        carriers: Iterable[Carrier] = (),
        rate_cards: Iterable[RateCard] = (),
        routes: Iterable[Route] = (),
    ) -> None:
        self._carriers = _by_id(carriers, Carrier, "carrier")
        self._cards = _by_id(rate_cards, RateCard, "rate card")
        self._routes = tuple(sorted(_by_id(routes, Route, "route").values(), key=_precedence))
        problems: list[str] = []
        for carrier in self._carriers.values():
            if carrier.rate_card_id not in self._cards:
                problems.append(f"carrier {carrier.id}: rate card {carrier.rate_card_id} missing")
        by_customer: dict[str, list[_CompiledRoute]] = {}
        for route in self._routes:
            compiled = self._compile(route, problems)
            by_customer.setdefault(route.customer_id, []).append(compiled)
        self._by_customer = {customer: tuple(found) for customer, found in by_customer.items()}
        self._problems = tuple(problems)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RoutingTable:
        """A table from plain data (JSON-shaped dicts and lists); see :mod:`libs.routing.data`."""
        from libs.routing.data import parse_config

        carriers, cards, routes = parse_config(data)
        return cls(carriers, cards, routes)

    def _compile(self, route: Route, problems: list[str]) -> _CompiledRoute:
        sell_card = self._cards.get(route.rate_card_id)
        if sell_card is None:
            problems.append(f"route {route.id}: sell rate card {route.rate_card_id} missing")
        entries = route.carriers or tuple(
            RouteCarrier(carrier_id) for carrier_id in sorted(self._carriers)
        )
        candidates: list[_Candidate] = []
        drops: list[DroppedCarrier] = []
        for entry in entries:
            carrier_id = entry.carrier_id
            carrier = self._carriers.get(carrier_id)
            card = self._cards.get(carrier.rate_card_id) if carrier is not None else None
            reason: DropReason | None = None
            if carrier_id in route.excluded_carriers:
                reason = DropReason.EXCLUDED
            elif carrier is None:
                reason = DropReason.UNKNOWN_CARRIER
                problems.append(f"route {route.id}: carrier {carrier_id} missing")
            elif not carrier.active:
                reason = DropReason.DISABLED
            elif card is None:
                reason = DropReason.NO_BUY_CARD
            elif sell_card is not None and card.currency != sell_card.currency:
                reason = DropReason.CURRENCY_MISMATCH
                problems.append(
                    f"route {route.id}: carrier {carrier_id} buys in {card.currency}, "
                    f"the route sells in {sell_card.currency}"
                )
            elif not carrier.selectable_gateways:
                reason = DropReason.NO_GATEWAY
            if reason is not None:
                drops.append(DroppedCarrier(carrier_id, reason))
            else:
                assert carrier is not None
                assert card is not None
                candidates.append(_Candidate(entry, carrier, card))
        return _CompiledRoute(route, sell_card, tuple(candidates), tuple(drops))

    # -- reading the snapshot ------------------------------------------------------------------

    @property
    def carriers(self) -> Mapping[str, Carrier]:
        """Every carrier by id (read-only)."""
        return MappingProxyType(self._carriers)

    @property
    def rate_cards(self) -> Mapping[str, RateCard]:
        """Every rate card by id (read-only)."""
        return MappingProxyType(self._cards)

    @property
    def routes(self) -> tuple[Route, ...]:
        """Every route, in precedence order."""
        return self._routes

    def routes_for(self, customer_id: str) -> tuple[Route, ...]:
        """A customer's routes in the order :meth:`plan` tries them."""
        return tuple(compiled.route for compiled in self._by_customer.get(customer_id, ()))

    @property
    def problems(self) -> tuple[str, ...]:
        """Dangling references and currency mismatches found when the table was built."""
        return self._problems

    # -- the routing decision ------------------------------------------------------------------

    def plan(
        self,
        customer_id: str,
        dialled: str,
        cli: str,
        tech_prefix: str,
        now: datetime,
        rng: random.Random | None = None,
    ) -> RoutingPlan | RoutingRefusal:
        """Route a call of ``customer_id`` to ``dialled`` (after rewrites) at ``now``.

        ``tech_prefix`` is the one the call carried ("" for none), ``cli`` the caller's number
        as received (matched by routes with a CLI pattern). ``rng`` drives the weighted strategy
        and the gateway choice; pass a seeded ``random.Random`` for reproducible plans (a
        process-wide generator is used if ``None``). Never raises for call data: every failure
        is a :class:`RoutingRefusal`. Only a naive ``now`` raises :class:`InvalidTime`.
        """
        timestamp = require_aware(now, "now").timestamp()
        if rng is None:
            rng = _SYSTEM_RANDOM
        if not (isinstance(dialled, str) and is_digits(dialled)):
            return RoutingRefusal(
                RefusalReason.INVALID_NUMBER, f"dialled number {dialled!r} is not digits"
            )
        compiled = self._match_route(customer_id, dialled, cli, tech_prefix)
        if compiled is None:
            return RoutingRefusal(
                RefusalReason.NO_ROUTE,
                f"no route of customer {customer_id} for {dialled} (tech prefix {tech_prefix!r})",
            )
        route = compiled.route
        sell_card = compiled.sell_card
        revision = sell_card.revision_at(timestamp) if sell_card is not None else None
        if sell_card is None or revision is None:
            return RoutingRefusal(
                RefusalReason.NO_RATE_CARD,
                f"route {route.id}: sell rate card {route.rate_card_id} missing or not in effect",
                route=route,
            )
        sell = revision.rates.lookup_digits(dialled)
        if sell is None:
            return RoutingRefusal(
                RefusalReason.NO_RATE, f"{dialled} is not on rate card {sell_card.id}", route=route
            )
        if sell.blocked:
            return RoutingRefusal(
                RefusalReason.BLOCKED,
                f"prefix {sell.prefix} ({sell.destination}) is blocked",
                route=route,
                sell_rate=sell,
            )
        viable: list[tuple[_Candidate, Rate]] = []
        dropped = list(compiled.static_drops)
        allow_below_cost = route.allow_below_cost
        for candidate in compiled.candidates:
            buy_revision = candidate.card.revision_at(timestamp)
            buy = buy_revision.rates.lookup_digits(dialled) if buy_revision is not None else None
            carrier_id = candidate.carrier.id
            if buy is None:
                dropped.append(DroppedCarrier(carrier_id, DropReason.NO_BUY_RATE))
            elif buy.blocked:
                dropped.append(DroppedCarrier(carrier_id, DropReason.BUY_RATE_BLOCKED, buy))
            elif buy.per_minute > sell.per_minute and not allow_below_cost:
                dropped.append(DroppedCarrier(carrier_id, DropReason.BELOW_COST, buy))
            else:
                viable.append((candidate, buy))
        if not viable:
            return RoutingRefusal(
                RefusalReason.NO_CARRIER,
                f"route {route.id}: no usable carrier for {dialled}",
                route=route,
                sell_rate=sell,
                dropped=tuple(dropped),
            )
        ordered = _order(route.strategy, viable, rng)
        attempts = []
        for candidate, buy in ordered:
            carrier = candidate.carrier
            gateway = carrier.pick_gateway(rng)
            assert gateway is not None  # carriers without one were dropped when compiling
            attempts.append(
                Attempt(
                    carrier,
                    gateway,
                    buy,
                    sell,
                    sell.per_minute - buy.per_minute,
                    carrier.tech_prefix + dialled,
                )
            )
        return RoutingPlan(
            route, sell_card, sell, tuple(attempts), tuple(dropped), dialled, cli, tech_prefix
        )

    def _match_route(
        self, customer_id: str, dialled: str, cli: str, tech_prefix: str
    ) -> _CompiledRoute | None:
        for compiled in self._by_customer.get(customer_id, ()):
            route = compiled.route
            if route.tech_prefix and route.tech_prefix != tech_prefix:
                continue
            if not route.dial_pattern.matches(dialled):
                continue
            if route.cli_pattern is not None and not route.cli_pattern.matches(cli):
                continue
            return compiled
        return None


def _cost_key(item: tuple[_Candidate, Rate]) -> tuple[Decimal, Decimal, int, str]:
    candidate, buy = item
    return (buy.per_minute, buy.connection_fee, candidate.entry.priority, candidate.carrier.id)


def _priority_key(item: tuple[_Candidate, Rate]) -> tuple[int, Decimal, Decimal, str]:
    candidate, buy = item
    return (candidate.entry.priority, buy.per_minute, buy.connection_fee, candidate.carrier.id)


def _order(
    strategy: Strategy, viable: list[tuple[_Candidate, Rate]], rng: random.Random
) -> list[tuple[_Candidate, Rate]]:
    if strategy is Strategy.LEAST_COST:
        return sorted(viable, key=_cost_key)
    if strategy is Strategy.PRIORITY:
        return sorted(viable, key=_priority_key)
    weighted: list[tuple[float, tuple[_Candidate, Rate]]] = []
    standby: list[tuple[_Candidate, Rate]] = []
    for item in viable:
        weight = item[0].entry.weight
        if weight > 0:
            # Efraimidis & Spirakis (2006): sorting by u^(1/w) descending is weighted sampling
            # without replacement, in one pass and one random number per carrier.
            weighted.append((rng.random() ** (1.0 / weight), item))
        else:
            standby.append(item)
    weighted.sort(key=lambda keyed: keyed[0], reverse=True)
    return [item for _, item in weighted] + sorted(standby, key=_cost_key)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_T = TypeVar("_T", bound=_Identified)


def _by_id(objects: Iterable[_T], kind: type[_T], what: str) -> dict[str, _T]:
    found: dict[str, _T] = {}
    for obj in objects:
        if not isinstance(obj, kind):
            raise InvalidConfig(f"expected a {kind.__name__}, got {obj!r}")
        if obj.id in found:
            raise InvalidConfig(f"two {what}s have the id {obj.id!r}")
        found[obj.id] = obj
    return found
