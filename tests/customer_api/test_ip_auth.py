"""IP authentication in customer_api: visible to the account, editable only where the operator
allows it (``ip_auth_self_service``, set through switch_api), with switch_api's rules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from libs.db.models import CustomerUserRole
from tests.customer_api.factories import Account

NewAccount = Callable[..., Awaitable[Account]]

ENTRY = {"address": "198.51.100.20", "direction": "ingress", "tech_prefix": "1234#"}


async def test_entries_are_read_only_until_the_operator_allows_editing(
    accounts: NewAccount,
) -> None:
    acme = await accounts()
    made = await acme.ip_auth(address="198.51.100.7", channel_limit=5)
    listed = await acme.client.get("/v1/ip-auth")
    assert [e["id"] for e in listed.json()["items"]] == [made["id"]]
    shown = (await acme.client.get(f"/v1/ip-auth/{made['id']}")).json()
    assert (shown["address"], shown["channel_limit"]) == ("198.51.100.7/32", 5)
    assert "customer_id" not in shown  # the account is implied
    assert not (await acme.client.get("/v1/account")).json()["ip_auth_self_service"]

    refused = [
        await acme.client.post("/v1/ip-auth", json=ENTRY),
        await acme.client.patch(f"/v1/ip-auth/{made['id']}", json={"channel_limit": 9}),
        await acme.client.delete(f"/v1/ip-auth/{made['id']}"),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert "operator" in response.json()["detail"]
    assert len((await acme.client.get("/v1/ip-auth")).json()["items"]) == 1

    allowed = await acme.operator.patch(
        f"/v1/customers/{acme.id}", json={"ip_auth_self_service": True}
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["ip_auth_self_service"] is True
    created = await acme.client.post("/v1/ip-auth", json=ENTRY)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/v1/ip-auth/{created.json()['id']}"
    changed = await acme.client.patch(f"/v1/ip-auth/{made['id']}", json={"channel_limit": 9})
    assert changed.status_code == 200, changed.text
    assert changed.json()["channel_limit"] == 9
    assert (await acme.client.delete(f"/v1/ip-auth/{made['id']}")).status_code == 204

    # The operator sees the customer's entry as its own, owned by the customer.
    seen = await acme.operator.get(f"/v1/ip-auth/{created.json()['id']}")
    assert seen.json()["customer_id"] == acme.id

    # Switching the permission off again stops the next write.
    await acme.operator.patch(f"/v1/customers/{acme.id}", json={"ip_auth_self_service": False})
    again = await acme.client.delete(f"/v1/ip-auth/{created.json()['id']}")
    assert again.status_code == 403


async def test_editing_needs_the_security_right_too(accounts: NewAccount) -> None:
    plain = await accounts(role=CustomerUserRole.USER, ip_auth_self_service=True)
    assert (await plain.client.get("/v1/ip-auth")).status_code == 200
    refused = await plain.client.post("/v1/ip-auth", json=ENTRY)
    assert refused.status_code == 403
    assert "security" in refused.json()["detail"]


async def test_customer_entries_follow_the_operators_rules(accounts: NewAccount) -> None:
    acme = await accounts(ip_auth_self_service=True, source_ranges=["198.51.100.0/24"])
    rival = await accounts()
    await rival.ip_auth(address="198.51.100.50")

    outside = await acme.client.post(
        "/v1/ip-auth", json={"address": "192.0.2.9", "direction": "ingress"}
    )
    assert outside.status_code == 422
    assert "source ranges" in outside.json()["detail"]

    # Sharing the rival's address without a way to tell the calls apart is refused, and the
    # refusal does not say whose address it is.
    shared = await acme.client.post(
        "/v1/ip-auth", json={"address": "198.51.100.50", "direction": "ingress"}
    )
    assert shared.status_code == 409
    assert "another account" in shared.json()["detail"]
    assert rival.id not in shared.text
    assert "conflicting_entry" not in shared.json()

    fqdn = await acme.client.post(
        "/v1/ip-auth", json={"address": "pbx.acme.example", "direction": "ingress"}
    )
    assert fqdn.status_code == 422
    egress = await acme.client.post(
        "/v1/ip-auth", json={"address": "pbx.acme.example", "direction": "egress"}
    )
    assert egress.status_code == 201, egress.text

    # Credentials, zones and the owner are the operator's: not fields of the customer's API.
    for extra in ({"username": "u"}, {"media_zone_id": None}, {"customer_id": rival.id}):
        body = {"address": "198.51.100.9", "direction": "ingress", **extra}
        assert (await acme.client.post("/v1/ip-auth", json=body)).status_code == 422
