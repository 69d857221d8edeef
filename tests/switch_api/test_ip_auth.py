"""IP authentication entries: addresses, directions, credentials, and the ambiguity rule."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from libs.db.models import IpAuthEntry
from services.switch_api.ip_auth.service import password_associated_data
from tests.switch_api import factories


async def test_entry_lifecycle(api: httpx.AsyncClient) -> None:
    customer = await factories.customer(api)
    entry = await factories.ip_auth(
        api,
        customer_id=customer["id"],
        address="203.0.113.0/28",
        transport="tls_srtp",
        port=5061,
        tech_prefix="12#",
        channel_limit=30,
        restricted_codecs=["G729"],
    )
    assert (entry["transport"], entry["port"], entry["has_password"]) == ("tls_srtp", 5061, False)
    changed = await api.patch(
        f"/v1/ip-auth/{entry['id']}", json={"force_nat": True, "cps_limit": 3}
    )
    assert (changed.json()["force_nat"], changed.json()["cps_limit"]) == (True, 3)
    listed = (await api.get("/v1/ip-auth", params={"customer_id": customer["id"]})).json()
    assert [e["id"] for e in listed["items"]] == [entry["id"]]
    assert (await api.delete(f"/v1/ip-auth/{entry['id']}")).status_code == 204
    assert (await api.get(f"/v1/ip-auth/{entry['id']}")).status_code == 404


async def test_address_rules(api: httpx.AsyncClient) -> None:
    customer = await factories.customer(api)
    owner = {"customer_id": customer["id"]}
    fqdn_ingress = await api.post(
        "/v1/ip-auth", json={**owner, "address": "pbx.example.com", "direction": "ingress"}
    )
    assert fqdn_ingress.status_code == 422
    assert fqdn_ingress.json()["errors"][0]["loc"] == ["body", "address"]
    assert "egress" in fqdn_ingress.json()["detail"]
    fqdn_egress = await factories.ip_auth(
        api, **owner, address="PBX.Example.com.", direction="egress"
    )
    assert fqdn_egress["address"] == "pbx.example.com"
    host_bits = await api.post(
        "/v1/ip-auth", json={**owner, "address": "10.0.0.1/8", "direction": "ingress"}
    )
    assert host_bits.status_code == 422
    garbage = await api.post(
        "/v1/ip-auth", json={**owner, "address": "not an address", "direction": "ingress"}
    )
    assert garbage.status_code == 422
    no_owner = await api.post("/v1/ip-auth", json={"address": "192.0.2.1", "direction": "ingress"})
    assert no_owner.status_code == 422


async def test_egress_credentials_are_write_only_and_encrypted(
    api: httpx.AsyncClient, switch_app: object
) -> None:
    carrier = await factories.carrier(api)
    entry = await factories.ip_auth(
        api,
        carrier_id=carrier["id"],
        direction="egress",
        address="192.0.2.50",
        username="tandem",
        password="carrier secret",
    )
    assert entry["has_password"] is True
    assert "password" not in entry
    assert "carrier secret" not in (await api.get(f"/v1/ip-auth/{entry['id']}")).text
    app = switch_app
    async with app.state.database.session() as session:  # type: ignore[attr-defined]
        row = (await session.scalars(select(IpAuthEntry))).one()
    assert "carrier secret" not in (row.password_ciphertext or "")
    plain = app.state.identity.encryption.decrypt(  # type: ignore[attr-defined]
        row.password_ciphertext, password_associated_data(row.id)
    )
    assert plain == b"carrier secret"
    ingress_creds = await api.post(
        "/v1/ip-auth",
        json={
            "carrier_id": carrier["id"],
            "address": "192.0.2.51",
            "direction": "ingress",
            "username": "x",
            "password": "y",
        },
    )
    assert ingress_creds.status_code == 422
    cleared = await api.patch(f"/v1/ip-auth/{entry['id']}", json={"username": None})
    assert (cleared.json()["username"], cleared.json()["has_password"]) == (None, False)


async def test_two_customers_on_one_address_must_be_told_apart(api: httpx.AsyncClient) -> None:
    first, second = await factories.customer(api), await factories.customer(api, name="Beta")
    await factories.ip_auth(api, customer_id=first["id"], address="198.51.100.0/24")

    clash = await api.post(
        "/v1/ip-auth",
        json={"customer_id": second["id"], "address": "198.51.100.7", "direction": "ingress"},
    )
    assert clash.status_code == 409
    detail = clash.json()["detail"]
    assert "198.51.100.0/24" in detail
    assert "tech prefix" in detail
    assert "CLI authentication" in detail

    # A tech prefix on one side only is still ambiguous; on both (disjoint), it is fine.
    one_sided = await api.post(
        "/v1/ip-auth",
        json={
            "customer_id": second["id"],
            "address": "198.51.100.7",
            "direction": "ingress",
            "tech_prefix": "22#",
        },
    )
    assert one_sided.status_code == 409
    # The same customer may list overlapping addresses.
    await factories.ip_auth(api, customer_id=first["id"], address="198.51.100.8")
    # Egress entries never authenticate inbound calls: no conflict.
    await factories.ip_auth(
        api, customer_id=second["id"], address="198.51.100.7", direction="egress"
    )


async def test_tech_prefixes_or_cli_authentication_resolve_a_shared_address(
    api: httpx.AsyncClient,
) -> None:
    first = await factories.customer(api)
    second = await factories.customer(api)
    third = await factories.customer(api)
    await factories.ip_auth(api, customer_id=first["id"], address="192.0.2.1", tech_prefix="11#")
    await factories.ip_auth(api, customer_id=second["id"], address="192.0.2.1", tech_prefix="22#")
    nested = await api.post(
        "/v1/ip-auth",
        json={
            "customer_id": third["id"],
            "address": "192.0.2.1",
            "direction": "ingress",
            "tech_prefix": "11",
        },
    )
    assert nested.status_code == 409  # "11" is the start of "11#"
    await factories.ip_auth(api, customer_id=first["id"], address="192.0.2.2", cli_auth=True)
    await factories.ip_auth(api, customer_id=second["id"], address="192.0.2.2", cli_auth=True)
    update_clash = await factories.ip_auth(api, customer_id=third["id"], address="192.0.2.3")
    moved = await api.patch(f"/v1/ip-auth/{update_clash['id']}", json={"address": "192.0.2.2"})
    assert moved.status_code == 409


async def test_entries_stay_inside_the_customers_source_ranges(api: httpx.AsyncClient) -> None:
    customer = await factories.customer(api, source_ranges=["203.0.113.0/24"])
    await factories.ip_auth(api, customer_id=customer["id"], address="203.0.113.9")
    outside = await api.post(
        "/v1/ip-auth",
        json={"customer_id": customer["id"], "address": "192.0.2.9", "direction": "ingress"},
    )
    assert outside.status_code == 422
    assert "source ranges" in outside.json()["detail"]
