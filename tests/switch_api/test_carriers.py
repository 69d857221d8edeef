"""Carriers and customers' new fields through switch_api, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import httpx

from tests.switch_api import factories


async def test_carrier_lifecycle_with_timeouts_codes_and_buy_card(api: httpx.AsyncClient) -> None:
    card = await factories.rate_card(api, direction="buy")
    created = await factories.carrier(
        api,
        rate_card_id=card["id"],
        channel_limit=300,
        cps_limit=30,
        timeouts={"first_reply": 2, "post_dial_delay": 10.5, "ring": 90},
        failover_codes=[503, 408, 503],
        stop_codes=[486],
        tech_prefix="99#",
        pai_policy="from_cli",
    )
    assert created["timeouts"] == {"first_reply": 2.0, "post_dial_delay": 10.5, "ring": 90.0}
    assert created["failover_codes"] == [408, 503]
    assert (created["rate_card_id"], created["pai_policy"]) == (card["id"], "from_cli")

    updated = await api.patch(
        f"/v1/carriers/{created['id']}", json={"status": "disabled", "rate_card_id": None}
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["status"], updated.json()["rate_card_id"]) == ("disabled", None)
    assert updated.json()["version"] == created["version"] + 1

    listed = (await api.get("/v1/carriers", params={"status": "disabled"})).json()
    assert [c["id"] for c in listed["items"]] == [created["id"]]
    assert (await api.delete(f"/v1/carriers/{created['id']}")).status_code == 204
    assert (await api.get(f"/v1/carriers/{created['id']}")).status_code == 404


async def test_carrier_validation_errors(api: httpx.AsyncClient) -> None:
    both = await api.post(
        "/v1/carriers", json={"name": "X", "failover_codes": [503], "stop_codes": [503]}
    )
    assert both.status_code == 422
    assert both.json()["errors"][0]["loc"] == ["body", "stop_codes"]
    bad_code = await api.post("/v1/carriers", json={"name": "X", "failover_codes": [200]})
    assert bad_code.status_code == 422
    sell = await factories.rate_card(api, direction="sell")
    wrong_card = await api.post("/v1/carriers", json={"name": "X", "rate_card_id": sell["id"]})
    assert wrong_card.status_code == 422
    assert "buy card" in wrong_card.json()["detail"]
    missing = await api.post("/v1/carriers", json={"name": "X", "rate_card_id": str(uuid.uuid4())})
    assert missing.status_code == 422
    await factories.carrier(api, name="Same")
    assert (await api.post("/v1/carriers", json={"name": "Same"})).status_code == 409
    timeout = await api.post("/v1/carriers", json={"name": "Y", "timeouts": {"ring": 0}})
    assert timeout.status_code == 422


async def test_a_carrier_used_by_a_route_cannot_be_deleted(api: httpx.AsyncClient) -> None:
    customer = await factories.customer(api)
    card = await factories.rate_card(api)
    carrier = await factories.carrier(api)
    route = await factories.create(
        api,
        "/v1/routes",
        {
            "customer_id": customer["id"],
            "rate_card_id": card["id"],
            "carriers": [{"carrier_id": carrier["id"]}],
        },
    )
    refused = await api.delete(f"/v1/carriers/{carrier['id']}")
    assert refused.status_code == 409
    assert "remove it from their carriers" in refused.json()["detail"]
    await api.delete(f"/v1/routes/{route['id']}")
    assert (await api.delete(f"/v1/carriers/{carrier['id']}")).status_code == 204


async def test_carrier_gateways_are_its_egress_entries(api: httpx.AsyncClient) -> None:
    carrier = await factories.carrier(api)
    egress = await factories.ip_auth(
        api, carrier_id=carrier["id"], direction="egress", address="sip.carrier.example", weight=3
    )
    await factories.ip_auth(api, carrier_id=carrier["id"], address="192.0.2.10")
    gateways = (await api.get(f"/v1/carriers/{carrier['id']}/gateways")).json()
    assert [g["id"] for g in gateways["items"]] == [egress["id"]]
    assert gateways["items"][0]["weight"] == 3


async def test_customer_limits_ranges_and_notes(api: httpx.AsyncClient) -> None:
    created = await factories.customer(
        api,
        daily_spend_limit="250.5",
        max_call_duration=7200,
        source_ranges=["203.0.113.0/24", "2001:db8::/32"],
        notes="VIP",
    )
    assert created["daily_spend_limit"] == "250.500000"
    assert (created["max_call_duration"], created["notes"]) == (7200, "VIP")
    assert created["source_ranges"] == ["203.0.113.0/24", "2001:db8::/32"]
    bad = await api.patch(f"/v1/customers/{created['id']}", json={"source_ranges": ["10.0.0.1/8"]})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "source_ranges"]
    too_long = await api.patch(f"/v1/customers/{created['id']}", json={"max_call_duration": -1})
    assert too_long.status_code == 422
