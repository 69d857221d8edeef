"""lookup_api's answers over HTTP: libphonenumber facts, datasets, rates, routes, batches, keys.

Every test runs twice: through the lean ASGI path and through the FastAPI routes (lean path
off), which must answer alike.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from libs.routing import (
    Carrier,
    Gateway,
    Route,
    RouteCarrier,
    RoutingTable,
)
from libs.routing.patterns import DialPattern
from services.lookup_api.fast import FastLookups
from services.lookup_api.service import plan_json
from tests.lookup_api.factories import (
    CUSTOMER,
    client,
    cnam_dataset,
    dnc_dataset,
    lookup_app,
    lrn_dataset,
    make_key,
    routing_config,
    state_of,
)

KEY, KEY_CONFIG = make_key()


@pytest.fixture(params=[True, False], ids=["lean", "fastapi"])
async def api(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    app = lookup_app(fast_path=request.param)
    data: dict[str, Any] = {
        **routing_config(),
        "lookupkey": {KEY_CONFIG.id: KEY_CONFIG},
        "lrn": {
            i.id: i
            for i in (
                lrn_dataset(
                    [("12125550123", "12125550000", "VZN"), ("12125550124", "", "")],
                    name="npac",
                ),
                lrn_dataset([("12125550123", "19999999999", "OLD")], name="stale", priority=5),
            )
        },
        "cnam": {(c := cnam_dataset([("12125550123", "ACME CORP")])).id: c},
        "dnc": {
            d.id: d
            for d in (
                dnc_dataset(["1212555*", "447911123456"], name="national"),
                dnc_dataset(["44*"], name="uk-calls"),
            )
        },
    }
    state_of(app).install(data, set(data))
    async with client(app) as http:
        http.headers["X-API-Key"] = KEY
        yield http


async def test_number_facts_come_from_libphonenumber(api: httpx.AsyncClient) -> None:
    london = (await api.get("/v1/numbers/+442079460018")).json()
    assert london["e164"] == "+442079460018"
    assert london["valid"] is True
    assert london["region"] == "GB"
    assert london["country_code"] == 44
    assert london["type"] == "fixed_line"
    assert london["location"] == "London"
    assert london["national_format"] == "020 7946 0018"

    national = (await api.get("/v1/numbers/020 7946 0018", params={"country": "GB"})).json()
    assert national["e164"] == "+442079460018"
    assert (await api.get("/v1/numbers/08001234567?country=GB")).json()["type"] == "toll_free"
    assert (await api.get("/v1/numbers/+19005550123")).json()["type"] == "premium_rate"
    mobile = (await api.get("/v1/numbers/+447911123456")).json()
    assert mobile["type"] == "mobile"
    assert mobile["original_carrier"]  # libphonenumber names the range's operator
    invalid = (await api.get("/v1/numbers/+1555")).json()
    assert invalid["valid"] is False


async def test_malformed_numbers_are_clear_400s(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/numbers/not-a-number")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "is not a phone number" in response.json()["detail"]
    assert (await api.get("/v1/numbers/0207946?country=gb")).status_code == 400
    assert (await api.get("/v1/rates/44abc?rate_card_id=sell")).status_code == 400


async def test_number_lookup_adds_the_datasets_asked_for(api: httpx.AsyncClient) -> None:
    body = (await api.get("/v1/numbers/+12125550123?include=lrn,cnam,dnc")).json()
    assert body["lrn"]["lrn"] == "12125550000"
    assert body["cnam"]["name"] == "ACME CORP"
    assert body["dnc"]["listed"] is True
    assert "lrn" not in (await api.get("/v1/numbers/+12125550123")).json()


async def test_lrn_answers_from_the_first_dataset_by_priority(api: httpx.AsyncClient) -> None:
    ported = (await api.get("/v1/lrn/(212) 555-0123", params={"country": "US"})).json()
    assert ported["number"] == "+12125550123"
    assert ported["ported"] is True
    assert ported["lrn"] == "12125550000"
    assert ported["operator"] == "VZN"
    assert ported["dataset"]["name"] == "npac"
    not_ported = (await api.get("/v1/lrn/+12125550124")).json()
    assert (not_ported["found"], not_ported["ported"], not_ported["lrn"]) == (True, False, None)
    unknown = (await api.get("/v1/lrn/+12125550199")).json()
    assert (unknown["found"], unknown["dataset"]) == (False, None)


async def test_cnam_and_dnc(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/cnam/+12125550123")).json()["name"] == "ACME CORP"
    assert (await api.get("/v1/cnam/+12125550124")).json()["found"] is False
    listed = (await api.get("/v1/dnc/+12125550999")).json()
    assert listed["listed"] is True
    assert [(x["name"], x["entry"], x["prefix"]) for x in listed["lists"]] == [
        ("national", "1212555", True)
    ]
    both = (await api.get("/v1/dnc/+447911123456")).json()
    assert sorted((x["name"], x["entry"], x["prefix"]) for x in both["lists"]) == [
        ("national", "447911123456", False),
        ("uk-calls", "44", True),
    ]
    assert (await api.get("/v1/dnc/+33123456789")).json() == {
        "number": "+33123456789",
        "listed": False,
        "lists": [],
    }


async def test_rate_on_a_card_and_on_a_customers_route(api: httpx.AsyncClient) -> None:
    on_card = (await api.get("/v1/rates/442079460018", params={"rate_card_id": "buy2"})).json()
    assert (on_card["prefix"], on_card["rate"], on_card["currency"]) == ("4420", "0.0110", "USD")
    assert on_card["increments"] == {"initial": 60, "subsequent": 60}
    sell = (await api.get("/v1/rates/+447700900123", params={"customer_id": str(CUSTOMER)})).json()
    assert (sell["prefix"], sell["rate"]) == ("447", "0.0900")
    assert sell["route_id"] == str(uuid.UUID(int=100))
    missing = await api.get("/v1/rates/33123", params={"rate_card_id": "buy2"})
    assert missing.status_code == 404
    assert (await api.get("/v1/rates/44", params={"rate_card_id": "nope"})).status_code == 404


async def test_route_lists_carriers_in_least_cost_order(api: httpx.AsyncClient) -> None:
    body = (await api.get("/v1/routes/442079460018", params={"customer_id": str(CUSTOMER)})).json()
    assert body["routed"] is True
    assert body["sell_rate"]["rate"] == "0.0150"
    assert [(c["name"], c["buy_rate"]["rate"], c["margin"]) for c in body["carriers"]] == [
        ("carrier 2", "0.0110", "0.0040"),
        ("carrier 1", "0.0120", "0.0030"),
    ]
    assert body["carriers"][0]["number"] == "99442079460018"
    assert body["carriers"][0]["gateway"]["host"] == "127.0.0.12"
    assert [(d["reason"], d["buy_rate"]) for d in body["dropped"]] == [("below_cost", "0.0200")]
    refused = (await api.get("/v1/routes/33123", params={"customer_id": str(CUSTOMER)})).json()
    assert refused["routed"] is False
    assert (refused["refusal"]["reason"], refused["refusal"]["sip_status"]) == ("no_route", 404)


async def test_batch_reports_errors_per_item(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/batch",
        json={"lookup": "lrn", "numbers": ["+12125550123", "garbage", "+12125550199"]},
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert items[0]["result"]["lrn"] == "12125550000"
    assert items[1]["error"]["status"] == 400
    assert items[1]["result"] is None
    assert items[2]["result"]["found"] is False
    too_many = await api.post("/v1/batch", json={"numbers": ["+1"] * 1001})
    assert too_many.status_code == 422
    unknown = await api.post("/v1/batch", json={"lookup": "weather", "numbers": ["1"]})
    assert unknown.status_code == 422


async def test_keys_are_required_and_checked(api: httpx.AsyncClient) -> None:
    del api.headers["X-API-Key"]
    missing = await api.get("/v1/numbers/+442079460018")
    assert missing.status_code == 401
    wrong = await api.get("/v1/numbers/+442079460018", headers={"X-API-Key": KEY[:-4] + "AAAA"})
    assert wrong.status_code == 401
    bearer = await api.get("/v1/numbers/+442079460018", headers={"Authorization": f"Bearer {KEY}"})
    assert bearer.status_code == 200


def _expected_table() -> RoutingTable:
    """The same configuration as :func:`routing_config`, built from routing's own model."""
    from tests.lookup_api.factories import routing_config as config

    data = config()
    carriers = [
        Carrier(
            str(c.id),
            c.name,
            c.rate_card_id or "",
            (Gateway(c.gateways[0].id, c.gateways[0].host),),
            tech_prefix=c.tech_prefix,
        )
        for c in data["carrier"].values()
    ]
    routes = [
        Route(
            str(r.id),
            r.customer_id,
            r.rate_card_id,
            dial_pattern=DialPattern.prefix("44"),
            carriers=tuple(RouteCarrier(c.carrier_id) for c in r.carriers),
        )
        for r in data["route"].values()
    ]
    return RoutingTable(carriers, data["ratecard"].values(), routes)


@pytest.mark.parametrize("number", ["442079460018", "447700900123", "441234567", "33123"])
async def test_route_lookup_equals_routing_table_plan(api: httpx.AsyncClient, number: str) -> None:
    """What sip_core would do (RoutingTable.plan on the same configuration) is what a route
    lookup answers."""
    now = datetime.now(UTC)
    for seed in (0, 7):
        plan = _expected_table().plan(str(CUSTOMER), number, "", "", now, random.Random(seed))
        expected = plan_json(plan, str(CUSTOMER), seed, number)
        answer = await api.get(
            f"/v1/routes/{number}", params={"customer_id": str(CUSTOMER), "seed": seed}
        )
        assert answer.json() == httpx.Response(200, json=expected).json()


async def test_lean_path_answers_follow_a_reload_and_are_counted() -> None:
    """The lean path keeps encoded answers per snapshot: a reload must not serve stale ones."""
    app = lookup_app(fast_path=True)
    state = state_of(app)
    old = lrn_dataset([("12125550123", "12125550000", "VZN")], name="npac")
    state.install(
        {"lookupkey": {KEY_CONFIG.id: KEY_CONFIG}, "lrn": {old.id: old}}, {"lookupkey", "lrn"}
    )
    async with client(app) as http:
        http.headers["X-API-Key"] = KEY
        first = [(await http.get("/v1/lrn/+12125550123")).json()["lrn"] for _ in range(3)]
        assert first == ["12125550000"] * 3
        new = lrn_dataset([("12125550123", "13135550000", "ATT")], name="npac")
        state.install({"lrn": {new.id: new}}, {"lrn"})
        after = (await http.get("/v1/lrn/+12125550123")).json()
        assert (after["lrn"], after["operator"]) == ("13135550000", "ATT")
        assert (await http.get("/v1/lrn/+1")).status_code == 400
        metrics = (await http.get("/metrics")).text
    fast = app._entry  # type: ignore[attr-defined]
    assert isinstance(fast, FastLookups)
    assert (fast.tally[("lrn", 200)], fast.tally[("lrn", 400)]) == (4, 1)
    # Exported at scrape time (summed over the lean paths alive in this process).
    assert 'tandem_lookup_fast_requests_total{kind="lrn",status="400"}' in metrics
