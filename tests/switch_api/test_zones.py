"""Zones through switch_api, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx


async def test_zone_lifecycle(api: httpx.AsyncClient) -> None:
    created = await api.post("/v1/zones", json={"name": "eu-west", "description": "Frankfurt"})
    assert created.status_code == 201
    zone = created.json()
    renamed = await api.patch(f"/v1/zones/{zone['id']}", json={"name": "eu-central"})
    assert renamed.json()["name"] == "eu-central"
    assert renamed.json()["description"] == "Frankfurt"
    listed = (await api.get("/v1/zones", params={"name_prefix": "eu-"})).json()
    assert [z["name"] for z in listed["items"]] == ["eu-central"]
    assert (await api.delete(f"/v1/zones/{zone['id']}")).status_code == 204
    assert (await api.get(f"/v1/zones/{zone['id']}")).status_code == 404


async def test_zone_names_are_machine_names_and_unique(api: httpx.AsyncClient) -> None:
    assert (await api.post("/v1/zones", json={"name": "EU West"})).status_code == 422
    assert (await api.post("/v1/zones", json={"name": "-edge"})).status_code == 422
    assert (await api.post("/v1/zones", json={"name": "us-east"})).status_code == 201
    duplicate = await api.post("/v1/zones", json={"name": "us-east"})
    assert duplicate.status_code == 409
    other = (await api.post("/v1/zones", json={"name": "us-west"})).json()
    clash = await api.patch(f"/v1/zones/{other['id']}", json={"name": "us-east"})
    assert clash.status_code == 409
