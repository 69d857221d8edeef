"""Plain configuration data → the routing model: shapes, defaults, errors with their path."""

from __future__ import annotations

import copy
import json
import random
from decimal import Decimal
from typing import Any

import pytest

from libs.rating import BillingIncrements, Rounding
from libs.routing import (
    InvalidConfig,
    MediaMode,
    PatternKind,
    RewriteTarget,
    RoutingPlan,
    RoutingTable,
    Strategy,
    parse_rewrite_rule,
)
from tests.routing.factories import NOW

CONFIG: dict[str, Any] = {
    "carriers": [
        {
            "id": "a",
            "name": "Alpha",
            "rate_card_id": "buy-a",
            "tech_prefix": "55#",
            "timeouts": {"first_reply": 2, "ring": 60},
            "failover_codes": [404],
            "stop_codes": [503],
            "gateways": [
                {"id": "a1", "host": "198.51.100.1", "weight": 3},
                {"id": "a2", "host": "sip.alpha.example", "port": 5061, "transport": "tls"},
            ],
            "a_field_from_a_newer_publisher": True,
        },
        {
            "id": "b",
            "name": "Beta",
            "rate_card_id": "buy-b",
            "gateways": [{"id": "b1", "host": "b"}],
        },
    ],
    "rate_cards": [
        {
            "id": "sell",
            "currency": "EUR",
            "precision": 5,
            "rounding": "up",
            "default_increments": "30/6",
            "revisions": [
                {
                    "id": "s1",
                    "effective_from": "2025-01-01T00:00:00Z",
                    "rates": [
                        {"prefix": "44", "destination": "United Kingdom", "rate": "0.0200"},
                        {
                            "prefix": "447",
                            "destination": "United Kingdom Mobile",
                            "rate": "0.05",
                            "connection_fee": "0.01",
                            "increments": [1, 1],
                        },
                        {"prefix": "4479", "destination": "UK Premium", "rate": 1, "blocked": True},
                    ],
                }
            ],
        },
        {
            "id": "buy-a",
            "currency": "EUR",
            "revisions": [
                {
                    "id": "a1",
                    "effective_from": "2025-01-01T00:00:00+00:00",
                    "rates": [{"prefix": "44", "rate": "0.0100", "initial": 6, "subsequent": 6}],
                }
            ],
        },
        {
            "id": "buy-b",
            "currency": "EUR",
            "revisions": [
                {
                    "id": "b1",
                    "effective_from": "2025-01-01T00:00:00Z",
                    "rates": [{"prefix": "44", "rate": "0.0090", "destination": "United Kingdom"}],
                }
            ],
        },
    ],
    "routes": [
        {
            "id": "r1",
            "customer_id": "cust",
            "rate_card_id": "sell",
            "dial_pattern": {"regex": "^44"},
            "strategy": "priority",
            "carriers": [{"carrier_id": "a", "priority": 1}, "b"],
            "excluded_carriers": [],
            "max_duration": 7200,
            "media_zone": "eu",
            "media_mode": "bypass",
        }
    ],
}


def test_a_whole_configuration_loads_and_plans() -> None:
    routing = RoutingTable.from_data(json.loads(json.dumps(CONFIG)))
    assert routing.problems == ()
    alpha = routing.carriers["a"]
    assert alpha.timeouts.first_reply == 2.0
    assert alpha.timeouts.post_dial_delay == 15.0  # the default
    assert alpha.failover_codes == {404}
    assert [gateway.weight for gateway in alpha.gateways] == [3, 1]
    sell = routing.rate_cards["sell"]
    assert (sell.currency, sell.precision, sell.rounding) == ("EUR", 5, Rounding.UP)
    uk = sell.lookup("442071234567", NOW)
    assert uk is not None
    assert uk.increments == BillingIncrements(30, 6)  # the card's default
    mobile = sell.lookup("447700900123", NOW)
    assert mobile is not None
    assert (mobile.per_minute, mobile.connection_fee) == (Decimal("0.05"), Decimal("0.01"))
    assert mobile.increments == BillingIncrements(1, 1)
    route = routing.routes[0]
    assert route.dial_pattern.kind is PatternKind.REGEX
    assert (route.strategy, route.media_mode, route.max_duration) == (
        Strategy.PRIORITY,
        MediaMode.BYPASS,
        7200,
    )

    result = routing.plan("cust", "442071234567", "", "", NOW, random.Random(1))
    assert isinstance(result, RoutingPlan)
    assert [attempt.carrier.id for attempt in result.attempts] == ["b", "a"]  # b has priority 0
    assert result.attempts[1].number == "55#442071234567"


def test_loading_interns_repeated_values() -> None:
    data = copy.deepcopy(CONFIG)
    rows = [
        {"prefix": f"44{n}", "destination": "United Kingdom", "rate": "0.0200"} for n in range(10)
    ]
    data["rate_cards"][0]["revisions"][0]["rates"] = rows
    card = RoutingTable.from_data(data).rate_cards["sell"]
    rates = [rate for _, rate in card.revisions[0].rates.items()]
    assert len({id(rate.per_minute) for rate in rates}) == 1
    assert len({id(rate.destination) for rate in rates}) == 1
    assert len({id(rate.increments) for rate in rates}) == 1


def broken(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(CONFIG)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


SELL_RATES = ["rate_cards", 0, "revisions", 0, "rates"]


@pytest.mark.parametrize(
    ("path", "value", "where", "message"),
    [
        ([*SELL_RATES, 0, "rate"], 0.02, "rate_cards[0].revisions[0].rates[0]", "never a float"),
        ([*SELL_RATES, 1, "rate"], "cheap", "rate_cards[0].revisions[0].rates[1]", "not a number"),
        ([*SELL_RATES, 0, "rate"], "-1", "rate_cards[0].revisions[0].rates[0]", ">= 0"),
        ([*SELL_RATES, 0, "prefix"], "+44", "rate_cards[0].revisions[0].rates[0]", "digits"),
        ([*SELL_RATES, 2, "prefix"], "44", "rate_cards[0].revisions[0]", "twice"),
        ([*SELL_RATES, 0, "prefix"], KeyError, "rate_cards[0].revisions[0].rates[0]", "prefix"),
        ([*SELL_RATES, 1, "increments"], "30", "rate_cards[0].revisions[0].rates[1]", "30/6"),
        (
            ["rate_cards", 0, "revisions", 0, "effective_from"],
            "2025-01-01T00:00:00",
            "rate_cards[0].revisions[0]",
            "aware",
        ),
        (
            ["rate_cards", 0, "revisions", 0, "effective_from"],
            "yesterday",
            "rate_cards[0].revisions[0]",
            "ISO-8601",
        ),
        (["rate_cards", 0, "rounding"], "sideways", "rate_cards[0]", "rounding"),
        (["rate_cards", 0, "default_increments"], "30/0", "rate_cards[0]", "subsequent"),
        (["rate_cards", 0, "revisions"], "none", "rate_cards[0].revisions", "a list"),
        (["carriers", 0, "gateways", 1, "port"], 99999, "carriers[0].gateways[1]", "port"),
        (["carriers", 0, "stop_codes"], [404], "carriers[0]", "both"),
        (["carriers", 1], "b", "carriers[1]", "an object"),
        (["routes", 0, "dial_pattern"], {"regex": r"(\d)\1"}, "routes[0]", "RE2"),
        (["routes", 0, "dial_pattern"], {"glob": "44*"}, "routes[0]", "pattern"),
        (["routes", 0, "carriers", 0, "weight"], -1, "routes[0].carriers[0]", "weight"),
        (["routes", 0, "strategy"], "cheapest", "routes[0]", "cheapest"),
    ],
)
def test_errors_name_the_object_at_fault(
    path: list[Any], value: Any, where: str, message: str
) -> None:
    with pytest.raises(InvalidConfig, match=message) as caught:
        RoutingTable.from_data(broken(path, value))
    assert caught.value.path == where


def test_the_configuration_must_be_an_object() -> None:
    with pytest.raises(InvalidConfig):
        RoutingTable.from_data([])  # type: ignore[arg-type]


def test_rewrite_rules_from_plain_data() -> None:
    rule = parse_rewrite_rule(
        {
            "target": "destination",
            "kind": "regex",
            "match": r"^0(\d+)",
            "replacement": r"44\1",
            "order": 2,
        }
    )
    assert (rule.target, rule.order, rule.apply("0207")) == (RewriteTarget.DESTINATION, 2, "44207")
    with pytest.raises(InvalidConfig, match=r"rules\[3\]") as caught:
        parse_rewrite_rule(
            {"target": "destination", "kind": "regex", "match": "(?=0)", "replacement": ""},
            "rules[3]",
        )
    assert caught.value.path == "rules[3]"
