"""The configuration kinds are a contract with the nodes: their JSON feeds libs.routing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from libs.liveconfig import ConfigDecodeError
from libs.liveconfig.models import (
    CONFIG_KINDS,
    CarrierConfig,
    GatewayConfig,
    RewriteConfig,
    RouteCarrierConfig,
    RouteConfig,
    decode_rate_card,
    encode_rate_card,
)
from libs.routing import parse_carrier, parse_rate_card, parse_rewrite_rule, parse_route


def test_every_kind_is_registered_once() -> None:
    assert set(CONFIG_KINDS) == {
        "customer",
        "balance",
        "carrier",
        "ipauth",
        "sipuser",
        "rewrite",
        "route",
        "firewall",
        "settings",
        "lookupkey",
    }
    assert all(model.kind == kind for kind, model in CONFIG_KINDS.items())


def test_carrier_route_and_rewrite_json_is_what_routing_reads() -> None:
    carrier = CarrierConfig(
        id=uuid.uuid4(),
        name="C1",
        rate_card_id="card-1",
        failover_codes=[503],
        stop_codes=[486],
        gateways=[GatewayConfig(id="g1", host="192.0.2.1", weight=2)],
    )
    parsed = parse_carrier(json.loads(carrier.to_bytes()))
    assert parsed.gateways[0].weight == 2
    assert parsed.stop_codes == frozenset({486})

    route = RouteConfig(
        id=uuid.uuid4(),
        customer_id="cust",
        rate_card_id="card-2",
        dial_pattern={"regex": "^44(20|7)"},
        carriers=[RouteCarrierConfig(carrier_id="c1", priority=1)],
        max_duration=3600,
    )
    assert parse_route(json.loads(route.to_bytes())).dial_pattern.matches("4420123")

    rule = RewriteConfig(
        id=uuid.uuid4(),
        owner="sipuser",
        owner_id=uuid.uuid4(),
        target="destination",
        kind="regex",
        match="^00",
        replacement="",
    )
    assert json.loads(rule.to_bytes())["kind"] == "regex"
    assert RewriteConfig.from_bytes(rule.to_bytes()) == rule
    assert parse_rewrite_rule(rule.model_dump(mode="json")).apply("0044") == "44"


def test_rate_card_blob_round_trips_into_a_routing_rate_card() -> None:
    now = datetime.now(UTC)
    head = {
        "id": "card",
        "currency": "EUR",
        "precision": 4,
        "rounding": "half_up",
        "name": "x",
        "default_increments": "30/6",
    }
    revisions = [
        (
            {"id": "r1", "effective_from": (now - timedelta(days=1)).isoformat()},
            [
                ("44", "UK", "0.01", "0", 30, 6, False),
                ("4420", "London", "0.0085", "0.1", 1, 1, True),
            ],
        ),
        (
            {"id": "r2", "effective_from": (now + timedelta(days=1)).isoformat()},
            [("44", "UK", "0.02", "0", 60, 60, False)],
        ),
    ]
    blob = b"".join(encode_rate_card(head, revisions))
    card = parse_rate_card(decode_rate_card(blob))
    rate = card.lookup("442071234567", now)
    assert rate is not None
    assert (rate.per_minute, rate.connection_fee, rate.blocked) == (
        Decimal("0.0085"),
        Decimal("0.1"),
        True,
    )
    later = card.lookup("4479", now + timedelta(days=2))
    assert later is not None
    assert later.per_minute == Decimal("0.02")
    assert len(card.revisions) == 2


def test_a_malformed_blob_is_a_decode_error() -> None:
    with pytest.raises(ConfigDecodeError):
        decode_rate_card(b'{"format": "something else"}\n')
    with pytest.raises(ConfigDecodeError):
        decode_rate_card(b"")
