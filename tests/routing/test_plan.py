"""RoutingTable.plan: route matching, sell-rate refusals, carrier filtering and ordering."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from libs.routing import (
    DialPattern,
    DropReason,
    Gateway,
    InvalidConfig,
    InvalidTime,
    MediaMode,
    RefusalReason,
    RouteCarrier,
    RoutingPlan,
    RoutingRefusal,
    RoutingTable,
    Strategy,
)
from libs.routing.model import CarrierStatus
from tests.routing.factories import NOW, card, carrier, rate, route, table

UK_LONDON = "442071234567"
UK_MOBILE = "447700900123"


def plan(
    routing: RoutingTable,
    dialled: str = UK_LONDON,
    *,
    customer: str = "cust",
    cli: str = "12125550100",
    tech_prefix: str = "",
    now: datetime = NOW,
    seed: int = 1,
) -> RoutingPlan | RoutingRefusal:
    return routing.plan(customer, dialled, cli, tech_prefix, now, random.Random(seed))


def planned(result: RoutingPlan | RoutingRefusal) -> RoutingPlan:
    assert isinstance(result, RoutingPlan), result
    return result


def refused(result: RoutingPlan | RoutingRefusal) -> RoutingRefusal:
    assert isinstance(result, RoutingRefusal), result
    return result


def order(result: RoutingPlan | RoutingRefusal) -> list[str]:
    return [attempt.carrier.id for attempt in planned(result).attempts]


def world(**route_options: object) -> RoutingTable:
    """A sell card, three priced carriers (a, b, c) and a route over them."""
    carriers = route_options.pop("carriers", ["a", "b", "c"])
    return table(
        cards=[
            card(
                "sell",
                [
                    rate("44", "0.0200"),
                    rate("447", "0.0500"),
                    rate("4479", "0.0900", blocked=True),
                    rate("1", "0.0100"),
                ],
            ),
            card("buy-a", {"44": "0.0100", "447": "0.0300"}),
            card("buy-b", {"44": "0.0080", "447": "0.0600"}),  # mobiles above the sell rate
            card("buy-c", {"4420": "0.0120"}),  # London only: no rate for mobiles
        ],
        carriers=[carrier("a"), carrier("b"), carrier("c")],
        routes=[route(carriers=carriers, **route_options)],  # type: ignore[arg-type]
    )


# -- strategies -----------------------------------------------------------------------------


def test_least_cost_orders_by_buy_rate() -> None:
    result = planned(plan(world()))
    assert [attempt.carrier.id for attempt in result.attempts] == ["b", "a", "c"]
    first = result.attempts[0]
    assert first.buy_rate.per_minute == Decimal("0.0080")
    assert first.sell_rate.per_minute == Decimal("0.0200")
    assert first.margin == Decimal("0.0120")
    assert first.gateway.id == "b-gw"
    assert first.number == UK_LONDON
    assert result.sell_rate.prefix == "44"
    assert result.route.id == "r1"
    assert result.dropped == ()


def test_least_cost_ties_break_by_fee_then_priority_then_id() -> None:
    routing = table(
        cards=[
            card("sell", {"44": "0.05"}),
            card("buy-a", [rate("44", "0.01", fee="0.01")]),
            card("buy-b", {"44": "0.01"}),
            card("buy-c", {"44": "0.01"}),
            card("buy-d", {"44": "0.01"}),
        ],
        carriers=[carrier(name) for name in "abcd"],
        routes=[
            route(
                carriers=[
                    RouteCarrier("a"),
                    RouteCarrier("d", priority=1),
                    RouteCarrier("c", priority=1),
                    RouteCarrier("b", priority=0),
                ]
            )
        ],
    )
    # b: no fee, priority 0; c and d: no fee, priority 1, by id; a: same rate plus a fee
    assert order(plan(routing)) == ["b", "c", "d", "a"]
    assert all(order(plan(routing, seed=seed)) == ["b", "c", "d", "a"] for seed in range(20))


def test_priority_strategy_follows_the_routes_priorities() -> None:
    routing = world(
        strategy=Strategy.PRIORITY,
        carriers=[
            RouteCarrier("a", priority=2),
            RouteCarrier("b", priority=3),
            RouteCarrier("c", priority=1),
        ],
    )
    assert order(plan(routing)) == ["c", "a", "b"]


def test_priority_ties_break_by_cost() -> None:
    routing = world(strategy=Strategy.PRIORITY, carriers=["a", "b", "c"])  # all priority 0
    assert order(plan(routing)) == ["b", "a", "c"]


def test_weighted_first_choice_follows_the_weights() -> None:
    routing = world(
        strategy=Strategy.WEIGHTED,
        carriers=[
            RouteCarrier("a", weight=70),
            RouteCarrier("b", weight=20),
            RouteCarrier("c", weight=10),
        ],
    )
    rng = random.Random(2024)
    runs = 6000
    firsts = Counter(
        planned(routing.plan("cust", UK_LONDON, "", "", NOW, rng)).attempts[0].carrier.id
        for _ in range(runs)
    )
    assert firsts["a"] / runs == pytest.approx(0.70, abs=0.025)
    assert firsts["b"] / runs == pytest.approx(0.20, abs=0.025)
    assert firsts["c"] / runs == pytest.approx(0.10, abs=0.025)


def test_weighted_plans_list_every_carrier_once_and_repeat_with_the_seed() -> None:
    routing = world(
        strategy=Strategy.WEIGHTED,
        carriers=[
            RouteCarrier("a", weight=5),
            RouteCarrier("b", weight=5),
            RouteCarrier("c", weight=0),
        ],
    )
    orders = {tuple(order(plan(routing, seed=seed))) for seed in range(50)}
    assert orders == {("a", "b", "c"), ("b", "a", "c")}  # weight 0: last, as a standby
    assert order(plan(routing, seed=9)) == order(plan(routing, seed=9))


# -- carrier filtering ----------------------------------------------------------------------


def test_excluded_carriers_are_dropped() -> None:
    result = planned(plan(world(excluded_carriers=frozenset({"b"}))))
    assert order(result) == ["a", "c"]
    assert [(drop.carrier_id, drop.reason) for drop in result.dropped] == [
        ("b", DropReason.EXCLUDED)
    ]


def test_a_route_without_carriers_uses_every_carrier_but_the_excluded() -> None:
    result = planned(plan(world(carriers=[], excluded_carriers=frozenset({"a"}))))
    assert order(result) == ["b", "c"]


def test_carriers_above_the_sell_rate_are_dropped() -> None:
    result = planned(plan(world(), UK_MOBILE))  # sell 0.05: a buys at 0.03, b at 0.06
    assert order(result) == ["a"]
    assert {(drop.carrier_id, drop.reason) for drop in result.dropped} == {
        ("b", DropReason.BELOW_COST),
        ("c", DropReason.NO_BUY_RATE),
    }
    below = next(drop for drop in result.dropped if drop.carrier_id == "b")
    assert below.buy_rate is not None
    assert below.buy_rate.per_minute == Decimal("0.0600")


def test_selling_below_cost_when_the_route_allows_it() -> None:
    result = planned(plan(world(allow_below_cost=True), UK_MOBILE))
    assert order(result) == ["a", "b"]
    assert result.attempts[1].margin == Decimal("-0.0100")


def test_selling_at_cost_is_not_below_cost() -> None:
    routing = table(
        cards=[card("sell", {"44": "0.02"}), card("buy-a", {"44": "0.0200"})],
        carriers=[carrier("a")],
        routes=[route(carriers=["a"])],
    )
    assert planned(plan(routing)).attempts[0].margin == 0


def test_disabled_unknown_and_gatewayless_carriers_are_dropped() -> None:
    routing = table(
        cards=[
            card("sell", {"44": "0.05"}),
            card("buy-ok", {"44": "0.01"}),
            card("buy-off", {"44": "0.01"}),
            card("buy-dry", {"44": "0.01"}),
            card("buy-eur", {"44": "0.01"}, currency="EUR"),
            card("buy-blocked", [rate("44", "0.01", blocked=True)]),
        ],
        carriers=[
            carrier("ok"),
            carrier("off", status=CarrierStatus.DISABLED),
            carrier("dry", gateways=[Gateway("g", "10.0.0.1", weight=0)]),
            carrier("eur"),
            carrier("blocked"),
            carrier("cardless", "buy-missing"),
        ],
        routes=[route(carriers=["ok", "off", "dry", "eur", "blocked", "cardless", "ghost"])],
    )
    result = planned(plan(routing))
    assert order(result) == ["ok"]
    assert {(drop.carrier_id, drop.reason) for drop in result.dropped} == {
        ("off", DropReason.DISABLED),
        ("dry", DropReason.NO_GATEWAY),
        ("eur", DropReason.CURRENCY_MISMATCH),
        ("blocked", DropReason.BUY_RATE_BLOCKED),
        ("cardless", DropReason.NO_BUY_CARD),
        ("ghost", DropReason.UNKNOWN_CARRIER),
    }
    assert sorted(routing.problems) == [
        "carrier cardless: rate card buy-missing missing",
        "route r1: carrier eur buys in EUR, the route sells in USD",
        "route r1: carrier ghost missing",
    ]


def test_carrier_tech_prefix_and_gateway_weights_shape_the_attempt() -> None:
    routing = table(
        cards=[card("sell", {"44": "0.05"}), card("buy-a", {"44": "0.01"})],
        carriers=[
            carrier(
                "a",
                tech_prefix="777#",
                gateways=[
                    Gateway("main", "10.0.0.1", weight=9),
                    Gateway("spare", "10.0.0.2", weight=1),
                ],
            )
        ],
        routes=[route(carriers=["a"])],
    )
    assert planned(plan(routing)).attempts[0].number == "777#" + UK_LONDON
    gateways = Counter(
        planned(plan(routing, seed=seed)).attempts[0].gateway.id for seed in range(2000)
    )
    assert gateways["main"] / 2000 == pytest.approx(0.9, abs=0.03)


# -- refusals -------------------------------------------------------------------------------


def test_no_sell_rate_is_refused_no_rate() -> None:
    result = refused(plan(world(), "33123456789"))
    assert result.reason is RefusalReason.NO_RATE
    assert (result.sip_status, result.sip_reason) == (404, "No Rate")


def test_a_blocked_sell_prefix_is_refused() -> None:
    result = refused(plan(world(), "447912345678"))
    assert result.reason is RefusalReason.BLOCKED
    assert result.sip_status == 403
    assert result.sell_rate is not None
    assert result.sell_rate.prefix == "4479"


def test_no_usable_carrier_is_refused_with_503_and_the_reasons() -> None:
    result = refused(plan(world(carriers=["b", "c"]), UK_MOBILE))
    assert result.reason is RefusalReason.NO_CARRIER
    assert result.sip_status == 503
    assert {drop.reason for drop in result.dropped} == {
        DropReason.BELOW_COST,
        DropReason.NO_BUY_RATE,
    }


@pytest.mark.parametrize("dialled", ["", "+442071234567", "44 20", "44a", "٤٤"])
def test_an_invalid_number_is_refused_484(dialled: str) -> None:
    result = refused(plan(world(), dialled))
    assert result.reason is RefusalReason.INVALID_NUMBER
    assert result.sip_status == 484


def test_unknown_customer_and_unmatched_pattern_are_refused_no_route() -> None:
    assert refused(plan(world(), customer="stranger")).reason is RefusalReason.NO_ROUTE
    narrow = world(dial_pattern=DialPattern.prefix("1"))
    result = refused(plan(narrow, UK_LONDON))
    assert (result.reason, result.sip_status) == (RefusalReason.NO_ROUTE, 404)


def test_a_missing_sell_card_is_refused_503() -> None:
    routing = table(cards=[], carriers=[], routes=[route(carriers=[])])
    result = refused(plan(routing))
    assert (result.reason, result.sip_status) == (RefusalReason.NO_RATE_CARD, 503)
    assert routing.problems == ("route r1: sell rate card sell missing",)


def test_a_naive_now_is_a_programming_error() -> None:
    with pytest.raises(InvalidTime):
        world().plan("cust", UK_LONDON, "", "", datetime(2025, 1, 1), random.Random(1))


# -- effective dates ------------------------------------------------------------------------


def test_revisions_change_prices_at_their_effective_instant() -> None:
    switch_over = datetime(2025, 9, 1, tzinfo=UTC)
    routing = table(
        cards=[
            card("sell", {"44": "0.0200"}, later=[(switch_over, {"44": "0.0150"})]),
            card("buy-a", {"44": "0.0100"}, later=[(switch_over, {"44": "0.0170"})]),
            card("buy-b", {"44": "0.0120"}),
        ],
        carriers=[carrier("a"), carrier("b")],
        routes=[route(carriers=["a", "b"])],
    )
    before = planned(plan(routing, now=switch_over - timedelta(seconds=1)))
    assert order(before) == ["a", "b"]
    assert before.sell_rate.per_minute == Decimal("0.0200")
    after = planned(plan(routing, now=switch_over))
    assert after.sell_rate.per_minute == Decimal("0.0150")
    assert order(after) == ["b"]  # a now costs 0.0170 > 0.0150
    assert after.dropped[0].reason is DropReason.BELOW_COST


def test_a_sell_card_not_yet_in_effect_is_refused() -> None:
    future = NOW + timedelta(days=1)
    routing = table(
        cards=[card("sell", {"44": "0.02"}, since=future), card("buy-a", {"44": "0.01"})],
        carriers=[carrier("a")],
        routes=[route(carriers=["a"])],
    )
    assert refused(plan(routing)).reason is RefusalReason.NO_RATE_CARD
    assert isinstance(plan(routing, now=future), RoutingPlan)


# -- route matching -------------------------------------------------------------------------


def routes_world(*routes: object) -> RoutingTable:
    return table(
        cards=[
            card("sell", {"44": "0.02", "1": "0.01"}),
            card("buy-a", {"44": "0.01", "1": "0.005"}),
        ],
        carriers=[carrier("a")],
        routes=routes,  # type: ignore[arg-type]
    )


def test_a_matching_tech_prefix_route_wins_and_others_fall_back() -> None:
    routing = routes_world(
        route("plain", carriers=["a"]),
        route("premium", carriers=["a"], tech_prefix="123#"),
    )
    assert planned(plan(routing, tech_prefix="123#")).route.id == "premium"
    assert planned(plan(routing, tech_prefix="")).route.id == "plain"
    assert planned(plan(routing, tech_prefix="999#")).route.id == "plain"
    only_premium = routes_world(route("premium", carriers=["a"], tech_prefix="123#"))
    assert refused(plan(only_premium)).reason is RefusalReason.NO_ROUTE


def test_longer_prefixes_then_regexes_then_the_catch_all() -> None:
    routing = routes_world(
        route("all", carriers=["a"]),
        route("uk", carriers=["a"], dial_pattern=DialPattern.prefix("44")),
        route("london", carriers=["a"], dial_pattern=DialPattern.prefix("4420")),
        route("mobile-ish", carriers=["a"], dial_pattern=DialPattern.regex(r"^447[0-9]{9}$")),
        route("nanp", carriers=["a"], dial_pattern=DialPattern.regex(r"^1[2-9]")),
    )
    assert [r.id for r in routing.routes_for("cust")] == [
        "london",
        "uk",
        "mobile-ish",
        "nanp",
        "all",
    ]
    assert planned(plan(routing, UK_LONDON)).route.id == "london"
    assert planned(plan(routing, "441611234567")).route.id == "uk"
    assert planned(plan(routing, "12125550100")).route.id == "nanp"
    assert planned(plan(routing, "10125550100")).route.id == "all"


def test_route_priority_beats_specificity() -> None:
    routing = routes_world(
        route("uk", carriers=["a"], dial_pattern=DialPattern.prefix("44")),
        route("preferred", carriers=["a"], priority=-1),
    )
    assert planned(plan(routing)).route.id == "preferred"


def test_cli_patterns_select_routes() -> None:
    routing = routes_world(
        route("us-callers", carriers=["a"], cli_pattern=DialPattern.regex(r"^\+?1")),
        route("others", carriers=["a"], priority=1),
    )
    assert planned(plan(routing, cli="+12125550100")).route.id == "us-callers"
    assert planned(plan(routing, cli="anonymous")).route.id == "others"


def test_customers_only_see_their_own_routes() -> None:
    routing = routes_world(
        route("mine", "alice", carriers=["a"]), route("theirs", "bob", carriers=["a"])
    )
    assert planned(plan(routing, customer="alice")).route.id == "mine"
    assert planned(plan(routing, customer="bob")).route.id == "theirs"


# -- duration and media -----------------------------------------------------------------------


def test_duration_cap_combines_balance_and_route_limit() -> None:
    routing = world(max_duration=3600, media_zone="eu-west", media_mode=MediaMode.BYPASS)
    result = planned(plan(routing))  # sell 0.02/min, 60/60
    assert result.duration_cap(None) == 3600
    assert result.duration_cap(Decimal("0.10")) == 300
    assert result.duration_cap(Decimal("100")) == 3600
    assert result.duration_cap(Decimal("0")) == 0
    assert (result.media_zone, result.media_mode) == ("eu-west", MediaMode.BYPASS)
    assert planned(plan(world())).duration_cap(None) is None


# -- table construction ----------------------------------------------------------------------


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(InvalidConfig, match="'a'"):
        table(carriers=[carrier("a"), carrier("a")])
    with pytest.raises(InvalidConfig):
        table(routes=[route("r"), route("r")])
    with pytest.raises(InvalidConfig):
        RoutingTable(carriers=["a"])  # type: ignore[list-item]


def test_the_table_exposes_a_read_only_snapshot() -> None:
    routing = world()
    assert set(routing.carriers) == {"a", "b", "c"}
    assert "sell" in routing.rate_cards
    with pytest.raises(TypeError):
        routing.carriers["x"] = carrier("x")  # type: ignore[index]
    with pytest.raises(AttributeError):
        routing.anything = 1  # type: ignore[attr-defined]
