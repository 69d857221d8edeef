"""Rate cards: revisions (draft, scheduled, active, superseded), rates, imports and exports."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.switch_api import factories

CSV = "text/csv"


async def _import(
    api: httpx.AsyncClient, card: str, revision: str, body: str | bytes, **params: Any
) -> httpx.Response:
    content_type = params.pop("content_type", CSV)
    return await api.post(
        f"/v1/rate-cards/{card}/revisions/{revision}/rates/import",
        content=body.encode() if isinstance(body, str) else body,
        params=params,
        headers={"content-type": content_type},
    )


async def _rates(api: httpx.AsyncClient, card: str, revision: str) -> list[dict[str, Any]]:
    page = await api.get(f"/v1/rate-cards/{card}/revisions/{revision}/rates")
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def test_card_crud_and_validation(api: httpx.AsyncClient) -> None:
    card = await factories.rate_card(
        api, precision=5, rounding="half_even", default_initial=30, default_subsequent=6
    )
    assert (card["precision"], card["rounding"], card["default_subsequent"]) == (5, "half_even", 6)
    assert (
        await api.post(
            "/v1/rate-cards", json={"name": card["name"], "direction": "sell", "currency": "EUR"}
        )
    ).status_code == 409
    bad = await api.post(
        "/v1/rate-cards", json={"name": "x", "direction": "sideways", "currency": "EUR"}
    )
    assert bad.status_code == 422
    renamed = await api.patch(f"/v1/rate-cards/{card['id']}", json={"rounding": "up"})
    assert renamed.json()["rounding"] == "up"
    listed = (await api.get("/v1/rate-cards", params={"direction": "sell"})).json()
    assert card["id"] in [c["id"] for c in listed["items"]]
    assert (await api.delete(f"/v1/rate-cards/{card['id']}")).status_code == 204


async def test_revisions_are_scheduled_activated_and_kept(api: httpx.AsyncClient) -> None:
    card = (await factories.rate_card(api))["id"]
    first = await factories.revision(api, card, name="v1")
    assert first["status"] == "draft"
    put = await api.put(
        f"/v1/rate-cards/{card}/revisions/{first['id']}/rates/44",
        json={"destination": "UK", "rate": "0.0100"},
    )
    assert put.status_code == 201
    assert put.json()["initial_increment"] == 60  # the card's default
    activated = await api.post(f"/v1/rate-cards/{card}/revisions/{first['id']}/activate")
    assert activated.json()["status"] == "active"

    # What took effect is kept as billed.
    locked = await api.put(
        f"/v1/rate-cards/{card}/revisions/{first['id']}/rates/44", json={"rate": "0.5"}
    )
    assert locked.status_code == 409
    assert "new revision" in locked.json()["detail"]

    later = datetime.now(UTC) + timedelta(days=7)
    second = await factories.revision(
        api, card, copy_from=first["id"], effective_from=later.isoformat()
    )
    assert (second["status"], second["rate_count"]) == ("scheduled", 1)
    await api.put(f"/v1/rate-cards/{card}/revisions/{second['id']}/rates/44", json={"rate": "0.02"})
    same_instant = await api.post(
        f"/v1/rate-cards/{card}/revisions", json={"effective_from": later.isoformat()}
    )
    assert same_instant.status_code == 409
    past = await api.post(
        f"/v1/rate-cards/{card}/revisions", json={"effective_from": "2020-01-01T00:00:00Z"}
    )
    assert past.status_code == 422
    assert past.json()["errors"][0]["loc"] == ["body", "effective_from"]

    await api.post(f"/v1/rate-cards/{card}/revisions/{second['id']}/activate")
    statuses = {
        r["id"]: r["status"]
        for r in (await api.get(f"/v1/rate-cards/{card}/revisions")).json()["items"]
    }
    assert statuses == {first["id"]: "superseded", second["id"]: "active"}
    assert (await _rates(api, card, first["id"]))[0]["rate"] == "0.01"
    assert (await _rates(api, card, second["id"]))[0]["rate"] == "0.02"
    kept = await api.delete(f"/v1/rate-cards/{card}/revisions/{first['id']}")
    assert kept.status_code == 409


async def test_csv_import_with_column_mapping_and_export(api: httpx.AsyncClient) -> None:
    card = (await factories.rate_card(api, default_initial=30, default_subsequent=6))["id"]
    revision = (await factories.revision(api, card))["id"]
    deck = (
        "Country;Code;Price;Setup;Blocked\n"
        "United Kingdom;44;0.0100;0;no\n"
        '"UK; London";4420;0.00850000;0.01;yes\n'
        "Germany;49;0.012;;\n"
    )
    imported = await _import(
        api,
        card,
        revision,
        deck,
        delimiter=";",
        columns="prefix=Code,destination=Country,rate=Price,connection_fee=Setup",
    )
    assert imported.status_code == 200, imported.text
    assert (imported.json()["rows"], imported.json()["rate_count"]) == (3, 3)
    rates = {r["prefix"]: r for r in await _rates(api, card, revision)}
    assert rates["4420"] == {
        "prefix": "4420",
        "destination": "UK; London",
        "rate": "0.0085",
        "connection_fee": "0.01",
        "initial_increment": 30,
        "subsequent_increment": 6,
        "blocked": True,
    }
    exported = await api.get(f"/v1/rate-cards/{card}/revisions/{revision}/rates/export")
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.splitlines()
    assert (
        lines[0] == "prefix,destination,rate,connection_fee,initial_increment,"
        "subsequent_increment,blocked"
    )
    assert lines[1:] == [
        "44,United Kingdom,0.01,0,30,6,false",
        "4420,UK; London,0.0085,0.01,30,6,true",
        "49,Germany,0.012,0,30,6,false",
    ]
    # The export imports back as it is (replace mode), and merge mode updates in place.
    again = await _import(api, card, revision, exported.text)
    assert again.json()["rows"] == 3
    merged = await _import(api, card, revision, "prefix,rate\n49,0.5\n33,0.1\n", mode="merge")
    assert merged.json()["rate_count"] == 4
    rates = {r["prefix"]: r["rate"] for r in await _rates(api, card, revision)}
    assert (rates["49"], rates["33"], rates["44"]) == ("0.5", "0.1", "0.01")


async def test_an_invalid_csv_imports_nothing_and_names_each_line(api: httpx.AsyncClient) -> None:
    card = (await factories.rate_card(api))["id"]
    revision = (await factories.revision(api, card))["id"]
    await _import(api, card, revision, "prefix,rate\n1,0.01\n")
    deck = (
        "prefix,destination,rate,initial_increment\n"
        "44,UK,0.01,60\n"
        "44x,Bad prefix,0.01,60\n"
        "45,Too precise,0.0000000001,60\n"
        "46,No rate,,60\n"
        "44,Twice,0.02,60\n"
        "47,Bad increment,0.01,-5\n"
    )
    failed = await _import(api, card, revision, deck)
    assert failed.status_code == 422
    problem = failed.json()
    assert [(e["line"], e["loc"][-1]) for e in problem["errors"]] == [
        (3, "prefix"),
        (4, "rate"),
        (5, "rate"),
        (6, "prefix"),
        (7, "initial_increment"),
    ]
    assert "appears twice (first on line 2)" in problem["errors"][3]["msg"]
    assert "nothing was imported" in problem["detail"]
    # All or nothing: the revision still has what it had.
    assert [r["prefix"] for r in await _rates(api, card, revision)] == ["1"]
    missing_column = await _import(api, card, revision, "code,price\n44,1\n", columns="prefix=code")
    assert missing_column.status_code == 422
    assert missing_column.json()["errors"][0]["loc"] == ["body", "columns"]
    not_csv = await _import(api, card, revision, b"prefix,rate\n\xff\xfe,1\n")
    assert not_csv.status_code == 422


def _open_card(rows: str, **card: Any) -> str:
    body = {
        "name": "Carrier deck",
        "schema_version": "1.0.0",
        "version": "1.0",
        "date": "2026-01-03",
        "legal": {"jurisdiction": "GB"},
        "cards": {
            "default": {
                "name": "Termination",
                "type": "termination",
                "currency": "EUR",
                "endpoint": "default",
                "fields": [
                    {"name": "prefix"},
                    {"name": "name"},
                    {"name": "rate"},
                    {"name": "connection_fee"},
                    {"name": "initial_interval"},
                    {"name": "billing_interval"},
                    {"name": "country_code"},
                ],
                "rate": {
                    "precision": 4,
                    "rounding": "nearest",
                    "default_pulse": 6,
                    "default_initial": 30,
                    "connection": 0,
                },
                **card,
                "rates": "__ROWS__",
            }
        },
    }
    return json.dumps(body, indent=2).replace('"__ROWS__"', rows)


async def test_open_rate_card_json_import(api: httpx.AsyncClient) -> None:
    card = (await factories.rate_card(api))["id"]
    revision = (await factories.revision(api, card))["id"]
    rows = (
        '[\n        ["441", "UK Landline", 0.012, 0, 60, 60, "44"],\n'
        '        ["1212", "USA New York", 0.008, 0.01, 6, 6, "1"],\n'
        '        ["49", "Germany", 0.0125, null, null, null, "49"]\n      ]'
    )
    done = await _import(api, card, revision, _open_card(rows), content_type="application/json")
    assert done.status_code == 200, done.text
    assert done.json()["format"] == "open-rate-card"
    rates = {r["prefix"]: r for r in await _rates(api, card, revision)}
    assert (rates["1212"]["rate"], rates["1212"]["connection_fee"]) == ("0.008", "0.01")
    assert (rates["49"]["initial_increment"], rates["49"]["subsequent_increment"]) == (30, 6)
    assert rates["441"]["destination"] == "UK Landline"


async def test_open_rate_card_errors_name_their_lines(api: httpx.AsyncClient) -> None:
    card = (await factories.rate_card(api))["id"]
    revision = (await factories.revision(api, card))["id"]
    rows = (
        '[\n        ["441", "UK", 0.012, 0, 60, 60, "44"],\n'
        '        ["44x", "Bad", 0.01, 0, 60, 60, "44"],\n'
        '        ["33", "Short row"],\n'
        '        ["34", "Negative", -1, 0, 60, 60, "34"]\n      ]'
    )
    document = _open_card(rows)
    failed = await _import(api, card, revision, document, content_type="application/json")
    assert failed.status_code == 422
    lines = document.splitlines()
    errors = failed.json()["errors"]
    assert [e["loc"][-1] for e in errors] == ["prefix", "row", "rate"]
    for error, marker in zip(errors, ('"44x"', '"Short row"', '"Negative"'), strict=True):
        assert marker in lines[error["line"] - 1]
    assert await _rates(api, card, revision) == []

    wrong_currency = await _import(
        api, card, revision, _open_card("[]", currency="USD"), content_type="application/json"
    )
    assert wrong_currency.json()["errors"][0]["loc"] == ["body", "currency"]
    broken = await _import(
        api,
        card,
        revision,
        '{"schema_version": "1.0.0", "cards": {',
        content_type="application/json",
    )
    assert broken.status_code == 422
    assert "line 1" in broken.json()["detail"]
    v2 = await _import(
        api,
        card,
        revision,
        _open_card("[]").replace('"1.0.0"', '"2.0.0"'),
        content_type="application/json",
    )
    assert v2.json()["errors"][0]["loc"] == ["body", "schema_version"]


async def test_import_progress_is_visible_by_id(api: httpx.AsyncClient) -> None:
    card = (await factories.rate_card(api))["id"]
    revision = (await factories.revision(api, card))["id"]
    import_id = str(uuid.uuid4())
    deck = "prefix,rate\n" + "".join(f"{4400 + i},0.01\n" for i in range(12_000))
    done = await _import(api, card, revision, deck, import_id=import_id)
    assert done.json()["rows"] == 12_000
    progress = (await api.get(f"/v1/rate-imports/{import_id}")).json()
    assert (progress["state"], progress["rows_read"]) == ("succeeded", 12_000)
    assert progress["bytes_read"] == progress["bytes_total"] == len(deck)
    page = (
        await api.get(f"/v1/rate-cards/{card}/revisions/{revision}/rates", params={"limit": 1000})
    ).json()
    second = (
        await api.get(
            f"/v1/rate-cards/{card}/revisions/{revision}/rates",
            params={"limit": 1000, "cursor": page["next_cursor"]},
        )
    ).json()
    prefixes = [r["prefix"] for r in page["items"] + second["items"]]
    assert prefixes == sorted(prefixes)  # keyset by prefix
    assert len(set(prefixes)) == 2000
    assert (await api.get(f"/v1/rate-imports/{uuid.uuid4()}")).status_code == 404


async def test_a_card_in_use_cannot_be_deleted_or_flipped(api: httpx.AsyncClient) -> None:
    card = await factories.rate_card(api, direction="buy")
    await factories.carrier(api, rate_card_id=card["id"])
    assert (await api.delete(f"/v1/rate-cards/{card['id']}")).status_code == 409
    flipped = await api.patch(f"/v1/rate-cards/{card['id']}", json={"direction": "sell"})
    assert flipped.status_code == 409
