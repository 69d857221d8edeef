"""Routes, firewall rules, global settings, nodes, and the OpenAPI document."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from tests.switch_api import factories


async def test_route_lifecycle_and_validation(api: httpx.AsyncClient) -> None:
    customer = await factories.customer(api)
    sell = await factories.rate_card(api)
    buy = await factories.rate_card(api, direction="buy")
    one, two = await factories.carrier(api), await factories.carrier(api)
    zone = await factories.create(api, "/v1/zones", {"name": "eu-west"})
    route = await factories.create(
        api,
        "/v1/routes",
        {
            "customer_id": customer["id"],
            "name": "UK mobiles",
            "tech_prefix": "11#",
            "dial_pattern": {"kind": "regex", "value": "^447[0-9]{9}$"},
            "rate_card_id": sell["id"],
            "strategy": "weighted",
            "carriers": [{"carrier_id": one["id"], "weight": 3}],
            "excluded_carrier_ids": [two["id"]],
            "media_zone_id": zone["id"],
            "media_mode": "bypass",
            "max_duration": 3600,
        },
    )
    assert route["dial_pattern"] == {"kind": "regex", "value": "^447[0-9]{9}$"}
    assert route["carriers"] == [{"carrier_id": one["id"], "priority": 0, "weight": 3}]
    changed = await api.patch(
        f"/v1/routes/{route['id']}", json={"max_duration": None, "cli_pattern": {"value": "44"}}
    )
    assert (changed.json()["max_duration"], changed.json()["cli_pattern"]["value"]) == (None, "44")

    base = {"customer_id": customer["id"], "rate_card_id": sell["id"]}
    for body, field in (
        ({**base, "rate_card_id": buy["id"]}, "rate_card_id"),
        ({**base, "dial_pattern": {"kind": "regex", "value": "(a)\\1"}}, "dial_pattern"),
        ({**base, "dial_pattern": {"kind": "prefix", "value": "44x"}}, "dial_pattern"),
        ({**base, "carriers": [{"carrier_id": str(uuid.uuid4())}]}, "carriers"),
        (
            {**base, "carriers": [{"carrier_id": one["id"]}], "excluded_carrier_ids": [one["id"]]},
            "excluded_carrier_ids",
        ),
        ({**base, "customer_id": str(uuid.uuid4())}, "customer_id"),
    ):
        refused = await api.post("/v1/routes", json=body)
        assert refused.status_code == 422, body
        assert refused.json()["errors"][0]["loc"] == ["body", field]
    listed = (await api.get("/v1/routes", params={"customer_id": customer["id"]})).json()
    assert [r["id"] for r in listed["items"]] == [route["id"]]
    assert (await api.delete(f"/v1/routes/{route['id']}")).status_code == 204
    assert (await api.get(f"/v1/routes/{route['id']}")).status_code == 404


async def test_firewall_rules(api: httpx.AsyncClient) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    rule = await factories.create(
        api,
        "/v1/firewall-rules",
        {"network": "198.51.100.0/24", "action": "block", "reason": "flood", "expires_at": soon},
    )
    assert (rule["source"], rule["expired"]) == ("manual", False)
    duplicate = await api.post(
        "/v1/firewall-rules", json={"network": "198.51.100.0/24", "action": "allow"}
    )
    assert duplicate.status_code == 409
    past = await api.post(
        "/v1/firewall-rules",
        json={"network": "192.0.2.1", "action": "block", "expires_at": "2020-01-01T00:00:00Z"},
    )
    assert past.json()["errors"][0]["loc"] == ["body", "expires_at"]
    bad = await api.post("/v1/firewall-rules", json={"network": "192.0.2.1/8", "action": "block"})
    assert bad.status_code == 422
    trusted = await factories.create(
        api,
        "/v1/firewall-rules",
        {"network": "2001:db8::/32", "action": "trusted", "source": "automatic"},
    )
    permanent = await api.patch(f"/v1/firewall-rules/{rule['id']}", json={"expires_at": None})
    assert permanent.json()["expires_at"] is None
    blocks = (await api.get("/v1/firewall-rules", params={"action": "block"})).json()
    assert [r["id"] for r in blocks["items"]] == [rule["id"]]
    auto = (await api.get("/v1/firewall-rules", params={"source": "automatic"})).json()
    assert [r["id"] for r in auto["items"]] == [trusted["id"]]
    assert (await api.delete(f"/v1/firewall-rules/{rule['id']}")).status_code == 204


async def test_settings_singleton(api: httpx.AsyncClient) -> None:
    defaults = (await api.get("/v1/settings")).json()
    assert (defaults["version"], defaults["platform_channel_limit"]) == (0, 0)
    changed = await api.patch(
        "/v1/settings",
        json={"platform_channel_limit": 5000, "auth_failure_max": 5, "ring_timeout": 60},
    )
    assert changed.status_code == 200
    again = (await api.get("/v1/settings")).json()
    assert (again["platform_channel_limit"], again["auth_failure_max"]) == (5000, 5)
    assert again["flood_max_requests"] == defaults["flood_max_requests"]
    assert (await api.patch("/v1/settings", json={"flood_window_seconds": 0})).status_code == 422
    assert (await api.patch("/v1/settings", json={"sip_realm": "bad realm"})).status_code == 422


async def test_nodes_need_nats(api: httpx.AsyncClient) -> None:
    unreachable = await api.get("/v1/nodes")
    assert unreachable.status_code == 503
    assert unreachable.headers["content-type"] == "application/problem+json"


async def test_rights_are_per_area(api: httpx.AsyncClient, switch_app: FastAPI) -> None:
    from libs.identity.permissions import Access, Area
    from tests.identity.factories import bearer, login, make_operator, make_role

    role = await make_role(switch_app, permissions={Area.RATES: Access.READ})
    reader = await make_operator(switch_app, role=role)
    clock = switch_app.state.identity.clock
    tokens = await login(api, reader, clock)
    headers = bearer(tokens["access_token"])
    assert (await api.get("/v1/rate-cards", headers=headers)).status_code == 200
    denied = await api.post(
        "/v1/rate-cards",
        headers=headers,
        json={"name": "x", "direction": "sell", "currency": "EUR"},
    )
    assert denied.status_code == 403
    assert (await api.get("/v1/carriers", headers=headers)).status_code == 403


async def test_openapi_is_fit_for_sdk_generation(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    ids = [operation["operationId"] for _, _, operation in operations]
    assert len(ids) == len(set(ids)), "operation ids must be unique"
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("tags"), where
        if path.startswith("/v1/") and not path.startswith("/v1/auth"):
            assert any(code.startswith("4") for code in operation["responses"]), where
    schemas = document["components"]["schemas"]
    for name in (
        "Carrier",
        "CarrierCreate",
        "CarrierUpdate",
        "IpAuthEntry",
        "SipUserCreate",
        "RewriteTestResult",
        "RateCard",
        "Revision",
        "Route",
        "FirewallRule",
        "Settings",
        "Node",
    ):
        assert name in schemas, name
    assert "examples" in schemas["CarrierCreate"]
    assert schemas["SipUserCreate"]["properties"]["password"]["anyOf"][0]["writeOnly"] is True
    tags = {tag["name"] for tag in document["tags"]}
    used = {tag for _, _, operation in operations for tag in operation["tags"]}
    assert used <= tags, used - tags
