"""The routing model: validation, rate card revisions by effective date, gateway choice."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from libs.rating import BillingIncrements, Rounding
from libs.routing import (
    Carrier,
    CarrierTimeouts,
    DialPattern,
    Gateway,
    InvalidConfig,
    InvalidNumber,
    InvalidTime,
    RateCard,
    RateRevision,
    Route,
    RouteCarrier,
)
from tests.routing.factories import EPOCH, NOW, card, carrier, rate

JULY = datetime(2025, 7, 1, tzinfo=UTC)
AUGUST = datetime(2025, 8, 1, tzinfo=UTC)


def dated_card() -> RateCard:
    return card(
        "sell",
        {"44": "0.0100"},
        later=[(JULY, {"44": "0.0200"}), (AUGUST, {"44": "0.0300", "447": "0.0500"})],
    )


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (EPOCH, Decimal("0.0100")),  # the first revision, at its very instant
        (NOW, Decimal("0.0100")),
        (JULY - timedelta(microseconds=1), Decimal("0.0100")),
        (JULY, Decimal("0.0200")),  # a revision applies from its effective instant
        (AUGUST + timedelta(days=400), Decimal("0.0300")),
        # the same instant in another zone is the same instant
        (datetime(2025, 7, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))), Decimal("0.0200")),
    ],
)
def test_the_revision_in_effect_is_the_latest_started(moment: datetime, expected: Decimal) -> None:
    found = dated_card().lookup("442071234567", moment)
    assert found is not None
    assert found.per_minute == expected


def test_before_the_first_revision_there_is_no_rate() -> None:
    assert dated_card().active_revision(EPOCH - timedelta(seconds=1)) is None
    assert dated_card().lookup("44", EPOCH - timedelta(seconds=1)) is None


def test_revisions_are_kept_in_date_order_whatever_the_input_order() -> None:
    built = dated_card()
    shuffled = RateCard("sell", "USD", tuple(reversed(built.revisions)))
    assert [revision.id for revision in shuffled.revisions] == ["sell-r0", "sell-r1", "sell-r2"]
    assert shuffled.lookup("4477", AUGUST) is not None
    assert shuffled.lookup("4477", JULY) == shuffled.lookup("44", JULY)


def test_two_revisions_at_the_same_instant_are_refused() -> None:
    first = RateRevision.build("a", JULY, [rate("44", "0.01")])
    second = RateRevision.build("b", JULY.astimezone(timezone(timedelta(hours=5))), [])
    with pytest.raises(InvalidConfig, match="at once"):
        RateCard("sell", "USD", (first, second))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidTime):
        RateRevision.build("a", datetime(2025, 1, 1), [])
    with pytest.raises(InvalidTime):
        dated_card().active_revision(datetime(2025, 1, 1))


def test_card_lookup_refuses_non_digits() -> None:
    with pytest.raises(InvalidNumber):
        dated_card().lookup("+44", NOW)


@pytest.mark.parametrize(
    ("currency", "options"),
    [
        ("usd", {}),
        ("US", {}),
        ("DOLLARS", {}),
        ("USD", {"precision": 13}),
        ("USD", {"precision": -1}),
        ("USD", {"rounding": "sideways"}),
    ],
)
def test_card_settings_are_validated(currency: str, options: dict[str, Any]) -> None:
    # InvalidConfig, or UnknownRounding from libs.rating: both are ValueErrors
    with pytest.raises(ValueError, match=r"currency|precision|rounding"):
        RateCard("c", currency, (), **options)


def test_card_prices_with_its_own_precision_and_rounding() -> None:
    sell = card("sell", [rate("44", "0.0125", increments=BillingIncrements(1, 1))], precision=2)
    assert sell.rounding is Rounding.HALF_UP
    found = sell.lookup("44", NOW)
    assert found is not None
    assert sell.price(6, found).total == Decimal("0.00")  # 0.00125 → 0.00 at 2 places
    assert sell.price(60, found).total == Decimal("0.01")
    assert sell.max_duration_for_balance(Decimal("0.01"), found) == 71  # 71 s = 0.0148 → 0.01


def test_a_duplicate_prefix_in_a_revision_is_refused() -> None:
    with pytest.raises(ValueError, match="'44'"):
        RateRevision.build("r", EPOCH, [rate("44", "0.01"), rate("44", "0.02")])


# -- carriers and gateways ------------------------------------------------------------------


def test_gateways_are_chosen_by_weight() -> None:
    weighted = carrier(
        "a",
        gateways=[
            Gateway("heavy", "10.0.0.1", weight=3),
            Gateway("light", "10.0.0.2", weight=1),
            Gateway("drained", "10.0.0.3", weight=0),
        ],
    )
    rng = random.Random(7)
    counts = Counter(weighted.pick_gateway(rng).id for _ in range(8000))  # type: ignore[union-attr]
    assert counts["drained"] == 0
    assert counts["heavy"] / 8000 == pytest.approx(0.75, abs=0.03)
    assert [gateway.id for gateway in weighted.selectable_gateways] == ["heavy", "light"]


def test_a_carrier_with_no_weighted_gateway_has_none_to_pick() -> None:
    drained = carrier("a", gateways=[Gateway("g", "10.0.0.1", weight=0)])
    assert drained.pick_gateway(random.Random(1)) is None
    assert carrier("b", gateways=[]).pick_gateway(random.Random(1)) is None


@pytest.mark.parametrize(
    "build",
    [
        lambda: Gateway("g", "host", port=0),
        lambda: Gateway("g", "host", port=70000),
        lambda: Gateway("g", "", port=5060),
        lambda: Gateway("g", "host", weight=-1),
        lambda: Gateway("g", "host", transport="sctp"),  # type: ignore[arg-type]
        lambda: Carrier("", "x", "card"),
        lambda: Carrier("a", "x", "card", (Gateway("g", "h"), Gateway("g", "h2"))),
        lambda: Carrier("a", "x", "card", channel_limit=-1),
        lambda: Carrier("a", "x", "card", tech_prefix="12 3"),
        lambda: Carrier("a", "x", "card", status="sleeping"),  # type: ignore[arg-type]
        lambda: CarrierTimeouts(first_reply=0),
        lambda: CarrierTimeouts(ring=-5),
        lambda: Route("r", "c", "card", dial_pattern=DialPattern.prefix("+44")),
        lambda: Route("r", "c", "card", carriers=(RouteCarrier("a"), RouteCarrier("a"))),
        lambda: Route("r", "c", "card", max_duration=0),
        lambda: Route("r", "c", "card", strategy="cheapest"),  # type: ignore[arg-type]
        lambda: RouteCarrier("a", weight=-1),
    ],
)
def test_inconsistent_objects_are_refused(build: Callable[[], object]) -> None:
    # InvalidConfig, InvalidPattern, or the ValueError of an enum given an unknown name
    with pytest.raises(ValueError):  # noqa: PT011
        build()


def test_model_objects_are_frozen() -> None:
    with pytest.raises(AttributeError):
        carrier("a").name = "B"  # type: ignore[misc]
