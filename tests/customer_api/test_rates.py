"""Rates in customer_api: the sell cards the account's routes use, searched, paged and
exported as CSV; never a card the account does not sell on, nor a draft revision."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable

from tests.customer_api.factories import Account
from tests.switch_api import factories

NewAccount = Callable[..., Awaitable[Account]]

RATES = {
    "44": ("United Kingdom", "0.0100"),
    "4420": ("United Kingdom - London", "0.0085"),
    "447": ("United Kingdom - Mobile", "0.0250"),
    "33": ("France", "0.0120"),
    "331": ("France - Paris", "0.0110"),
}


async def test_cards_are_those_of_the_accounts_routes(accounts: NewAccount) -> None:
    acme = await accounts()
    card = await acme.sell_card(RATES, precision=5, default_initial=30, default_subsequent=6)
    unused = await factories.rate_card(acme.operator)  # no route of acme's sells on it
    scheduled = await acme.schedule(card, {"44": ("United Kingdom", "0.0090")})

    listed = (await acme.client.get("/v1/rate-cards")).json()
    assert [c["id"] for c in listed] == [card["id"]]
    shown = listed[0]
    assert (shown["precision"], shown["default_initial"], shown["default_subsequent"]) == (
        5,
        30,
        6,
    )
    assert shown["active_revision"]["id"] == card["revision_id"]
    assert shown["scheduled_revision"]["id"] == scheduled["id"]
    assert (await acme.client.get(f"/v1/rate-cards/{unused['id']}")).status_code == 404

    # The scheduled revision can be read ahead of time; a draft cannot.
    ahead = await acme.client.get(
        f"/v1/rate-cards/{card['id']}/rates", params={"revision_id": scheduled["id"]}
    )
    assert ahead.status_code == 200, ahead.text
    assert [(r["prefix"], r["rate"]) for r in ahead.json()["items"]] == [("44", "0.009")]
    draft = await factories.revision(acme.operator, card["id"], name="draft")
    hidden = await acme.client.get(
        f"/v1/rate-cards/{card['id']}/rates", params={"revision_id": draft["id"]}
    )
    assert hidden.status_code == 404


async def test_rates_are_searched_and_paged_by_prefix(accounts: NewAccount) -> None:
    acme = await accounts()
    card = await acme.sell_card(RATES)
    path = f"/v1/rate-cards/{card['id']}/rates"

    async def prefixes(**params: str | int) -> list[str]:
        response = await acme.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return [r["prefix"] for r in response.json()["items"]]

    assert await prefixes() == ["33", "331", "44", "4420", "447"]
    assert await prefixes(prefix="44") == ["44", "4420", "447"]
    assert await prefixes(destination="paris") == ["331"]
    assert await prefixes(destination="united kingdom", prefix="447") == ["447"]
    # The prefixes covering a dialled London number; the longest one is the rate charged.
    assert await prefixes(number="442079460000") == ["44", "4420"]

    first = (await acme.client.get(path, params={"limit": 2})).json()
    assert [r["prefix"] for r in first["items"]] == ["33", "331"]
    assert first["revision"]["id"] == card["revision_id"]
    second = (
        await acme.client.get(path, params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [r["prefix"] for r in second["items"]] == ["44", "4420"]
    rest = (
        await acme.client.get(path, params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()
    assert [r["prefix"] for r in rest["items"]] == ["447"]
    assert rest["next_cursor"] is None

    assert (await acme.client.get(path, params={"cursor": "garbage!"})).status_code == 400
    assert (await acme.client.get(path, params={"prefix": "4a"})).status_code == 422
    item = (await acme.client.get(path, params={"prefix": "4420"})).json()["items"][0]
    assert item == {
        "prefix": "4420",
        "destination": "United Kingdom - London",
        "rate": "0.0085",
        "connection_fee": "0",
        "initial_increment": 60,
        "subsequent_increment": 60,
        "blocked": False,
    }


async def test_rates_download_as_csv(accounts: NewAccount) -> None:
    acme = await accounts()
    card = await acme.sell_card(RATES)
    path = f"/v1/rate-cards/{card['id']}/rates/export"

    exported = await acme.client.get(path)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["prefix"] for r in rows] == ["33", "331", "44", "4420", "447"]
    assert rows[3] == {
        "prefix": "4420",
        "destination": "United Kingdom - London",
        "rate": "0.0085",
        "connection_fee": "0",
        "initial_increment": "60",
        "subsequent_increment": "60",
        "blocked": "false",
    }

    filtered = await acme.client.get(path, params={"destination": "france"})
    assert [r["prefix"] for r in csv.DictReader(io.StringIO(filtered.text))] == ["33", "331"]


async def test_a_large_card_streams_whole(accounts: NewAccount) -> None:
    acme = await accounts()
    card = await factories.rate_card(acme.operator)
    revision = await factories.revision(acme.operator, card["id"], name="big")
    body = "prefix,destination,rate\n" + "".join(
        f"{1000000 + i},Somewhere {i},0.{i % 1000:04d}\n" for i in range(12_000)
    )
    imported = await acme.operator.post(
        f"/v1/rate-cards/{card['id']}/revisions/{revision['id']}/rates/import",
        content=body.encode(),
        headers={"content-type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    await acme.operator.post(f"/v1/rate-cards/{card['id']}/revisions/{revision['id']}/activate")
    await factories.create(
        acme.operator, "/v1/routes", {"customer_id": acme.id, "rate_card_id": card["id"]}
    )
    async with acme.client.stream("GET", f"/v1/rate-cards/{card['id']}/rates/export") as response:
        assert response.status_code == 200
        chunks = [chunk async for chunk in response.aiter_bytes()]
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == 12_001
    assert lines[-1].startswith("1011999,Somewhere 11999,")
