"""Small factories for switch_api's configuration tests: each creates one object through the
API and returns its JSON."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


async def create(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def customer(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Customer {uuid.uuid4().hex[:8]}", "currency": "EUR", **fields}
    return await create(api, "/v1/customers", body)


async def carrier(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    return await create(api, "/v1/carriers", {"name": f"Carrier {uuid.uuid4().hex[:8]}", **fields})


async def ip_auth(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"address": "203.0.113.7", "direction": "ingress", **fields}
    return await create(api, "/v1/ip-auth", body)


async def sip_user(api: httpx.AsyncClient, customer_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "customer_id": customer_id,
        "username": f"user{uuid.uuid4().hex[:8]}",
        "password": "a long sip password",
        **fields,
    }
    created = await create(api, "/v1/sip-users", body)
    user: dict[str, Any] = created["sip_user"]
    return user


async def rate_card(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "name": f"Card {uuid.uuid4().hex[:8]}",
        "direction": "sell",
        "currency": "EUR",
        **fields,
    }
    return await create(api, "/v1/rate-cards", body)


async def revision(api: httpx.AsyncClient, card_id: str, **fields: Any) -> dict[str, Any]:
    return await create(api, f"/v1/rate-cards/{card_id}/revisions", fields)
