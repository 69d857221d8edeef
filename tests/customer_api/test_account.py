"""The account view and customer_api's OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx

from tests.customer_api.factories import Account

NewAccount = Callable[..., Awaitable[Account]]


async def test_the_account_shows_money_and_limits(accounts: NewAccount) -> None:
    acme = await accounts(
        currency="USD",
        debit_limit="25.5",
        channel_limit=30,
        cps_limit=5,
        daily_spend_limit="100",
        max_call_duration=7200,
        source_ranges=["198.51.100.0/24"],
    )
    await acme.sip_user(channel_limit=12)
    account = await acme.client.get("/v1/account")
    assert account.status_code == 200, account.text
    body = account.json()
    assert body["id"] == acme.id
    assert body["currency"] == "USD"
    # Money is a decimal string with the balance's six places, never a float.
    assert (body["balance"], body["debit_limit"], body["available"]) == (
        "0.000000",
        "25.500000",
        "25.500000",
    )
    assert body["daily_spend_limit"] == "100.000000"
    assert (body["channel_limit"], body["cps_limit"], body["max_call_duration"]) == (30, 5, 7200)
    assert body["source_ranges"] == ["198.51.100.0/24"]
    assert (body["sip_channels_allocated"], body["sip_channels_available"]) == (12, 18)


async def test_openapi_is_fit_for_sdk_generation(customer: httpx.AsyncClient) -> None:
    document = (await customer.get("/openapi.json")).json()
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    ids = [operation["operationId"] for _, _, operation in operations]
    assert len(ids) == len(set(ids)), "operation ids must be unique"
    tags = {tag["name"] for tag in document["tags"]}
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert re.fullmatch(r"[a-z][a-z0-9_]*", operation["operationId"]), where
        assert operation.get("summary"), where
        assert set(operation.get("tags", [])) <= tags, where
        assert operation.get("tags"), where
        # Dependencies never leak into the interface as parameters.
        names = {p["name"] for p in operation.get("parameters", [])}
        assert not names & {"principal", "tenant", "uow", "publisher", "database"}, where
        if path.startswith("/v1/") and not path.startswith("/v1/auth"):
            assert any(code.startswith("4") for code in operation["responses"]), where
    schemas = document["components"]["schemas"]
    for name in ("Account", "SipUserCreate", "IpAuthEntryCreate", "RateCard"):
        assert schemas[name].get("examples"), name
    for name in ("SipUser", "SipUserCreated", "PasswordReset", "IpAuthEntry", "RatePage"):
        assert name in schemas, name
    export = document["paths"]["/v1/rate-cards/{card_id}/rates/export"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]
