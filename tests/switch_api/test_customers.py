"""Customers through switch_api, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import httpx

PROBLEM = "application/problem+json"


def customer(**overrides: object) -> dict[str, object]:
    return {"name": f"Acme {uuid.uuid4().hex[:6]}", "currency": "EUR", **overrides}


async def test_a_customer_written_is_read_back(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/v1/customers",
        json=customer(name="Acme Telecom", debit_limit="25.50", channel_limit=30, cps_limit=5),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/v1/customers/{body['id']}"

    read = await api.get(created.headers["location"])

    assert read.status_code == 200
    assert read.json() == body
    assert body["name"] == "Acme Telecom"
    assert body["balance"] == "0.000000"
    assert body["debit_limit"] == "25.500000"
    assert (body["status"], body["channel_limit"], body["cps_limit"]) == ("active", 30, 5)


async def test_money_keeps_every_decimal_place(api: httpx.AsyncClient) -> None:
    created = await api.post("/v1/customers", json=customer(debit_limit="0.000001"))
    assert created.status_code == 201
    updated = await api.patch(
        f"/v1/customers/{created.json()['id']}", json={"debit_limit": "12345678901.123456"}
    )
    assert updated.json()["debit_limit"] == "12345678901.123456"
    read = await api.get(f"/v1/customers/{created.json()['id']}")
    assert read.json()["debit_limit"] == "12345678901.123456"


async def test_more_decimal_places_than_stored_are_refused(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/customers", json=customer(debit_limit="1.0000001"))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["loc"] == ["body", "debit_limit"]


async def test_invalid_input_gets_problem_details_naming_each_field(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(
        "/v1/customers", json={"name": "", "currency": "euro", "cps_limit": -1, "colour": "red"}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/validation-failed")
    assert problem["correlation_id"] == response.headers["x-request-id"]
    assert {tuple(e["loc"]) for e in problem["errors"]} == {
        ("body", "name"),
        ("body", "currency"),
        ("body", "cps_limit"),
        ("body", "colour"),
    }


async def test_duplicate_name_is_a_conflict_and_loses_nothing(api: httpx.AsyncClient) -> None:
    first = await api.post("/v1/customers", json=customer(name="Same"))
    second = await api.post("/v1/customers", json=customer(name="Same"))
    assert second.status_code == 409
    assert "Same" in second.json()["detail"]
    listed = await api.get("/v1/customers")
    assert [c["id"] for c in listed.json()["items"]] == [first.json()["id"]]


async def test_update_changes_only_what_is_sent_and_bumps_the_version(
    api: httpx.AsyncClient,
) -> None:
    created = (await api.post("/v1/customers", json=customer(channel_limit=10))).json()
    updated = await api.patch(
        f"/v1/customers/{created['id']}", json={"status": "suspended", "cps_limit": 3}
    )
    assert updated.status_code == 200
    body = updated.json()
    assert (body["status"], body["cps_limit"], body["channel_limit"]) == ("suspended", 3, 10)
    assert body["version"] == created["version"] + 1


async def test_balance_is_read_only(api: httpx.AsyncClient) -> None:
    created = (await api.post("/v1/customers", json=customer())).json()
    response = await api.patch(f"/v1/customers/{created['id']}", json={"balance": "1000"})
    assert response.status_code == 422
    assert (await api.get(f"/v1/customers/{created['id']}")).json()["balance"] == "0.000000"


async def test_unknown_and_malformed_ids(api: httpx.AsyncClient) -> None:
    missing = await api.get(f"/v1/customers/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert (await api.get("/v1/customers/not-a-uuid")).status_code == 422
    assert (await api.delete(f"/v1/customers/{uuid.uuid4()}")).status_code == 404


async def test_delete(api: httpx.AsyncClient) -> None:
    created = (await api.post("/v1/customers", json=customer())).json()
    assert (await api.delete(f"/v1/customers/{created['id']}")).status_code == 204
    assert (await api.get(f"/v1/customers/{created['id']}")).status_code == 404


async def test_keyset_pagination_walks_every_customer_once(api: httpx.AsyncClient) -> None:
    names = [f"Customer {i:02d}" for i in range(7)]
    for name in reversed(names):
        assert (await api.post("/v1/customers", json=customer(name=name))).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/customers", params=params)).json()
        seen += [c["name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names

    reverse = (await api.get("/v1/customers", params={"sort": "-name", "limit": 2})).json()
    assert [c["name"] for c in reverse["items"]] == names[::-1][:2]


async def test_filters(api: httpx.AsyncClient) -> None:
    await api.post("/v1/customers", json=customer(name="Alpha Voice"))
    suspended = await api.post("/v1/customers", json=customer(name="Beta", status="suspended"))
    by_status = (await api.get("/v1/customers", params={"status": "suspended"})).json()
    assert [c["id"] for c in by_status["items"]] == [suspended.json()["id"]]
    by_name = (await api.get("/v1/customers", params={"name_contains": "voice"})).json()
    assert [c["name"] for c in by_name["items"]] == ["Alpha Voice"]


async def test_bad_sort_and_cursor_are_400s(api: httpx.AsyncClient) -> None:
    bad_sort = await api.get("/v1/customers", params={"sort": "balance"})
    assert bad_sort.status_code == 400
    assert "sort by one of" in bad_sort.json()["detail"]
    first = await api.get("/v1/customers", params={"sort": "-name"})
    assert first.status_code == 200
    bad_cursor = await api.get("/v1/customers", params={"cursor": "bm90IGEgY3Vyc29y"})
    assert bad_cursor.status_code == 400
