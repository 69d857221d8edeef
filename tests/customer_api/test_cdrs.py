"""CDRs and the ledger in customer_api: the account's own calls, rated by billing's ingest,
filtered, paged, exported as CSV and summarised per destination and day; never the carrier's
side of a call."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

from libs.accounts.calls import cdrs_csv
from libs.billing.cdrs import CdrFilters
from tests.billing.factories import T0
from tests.customer_api.factories import Account

NewAccount = Callable[..., Awaitable[Account]]


async def _traffic(acme: Account) -> None:
    """Five calls over two days: three to Germany (one unanswered), two to France."""
    await acme.calls(
        acme.call(seconds=20, started_at=T0),  # 60/60 at 0.06: 0.06
        acme.call(seconds=65, started_at=T0 + timedelta(hours=1)),  # 120 s: 0.12
        acme.call(seconds=None, started_at=T0 + timedelta(hours=2)),  # unanswered
        acme.call(
            seconds=30,
            rate="0.12",
            started_at=T0 + timedelta(days=1),
            callee_received="33140000000",
            callee_sent="33140000000",
            sell_prefix="33",
            destination="France",
        ),
        acme.call(
            seconds=90,
            rate="0.12",
            started_at=T0 + timedelta(days=1, hours=1),
            callee_received="33612345678",
            callee_sent="33612345678",
            sell_prefix="336",
            destination="France",
            sip_user_id=None,
        ),
    )


async def test_calls_are_listed_filtered_and_paged(accounts: NewAccount) -> None:
    acme, rival = await accounts(), await accounts()
    await _traffic(acme)
    await rival.calls(rival.call(seconds=10, started_at=T0))

    listed = (await acme.client.get("/v1/cdrs")).json()
    assert len(listed["items"]) == 5
    starts = [c["started_at"] for c in listed["items"]]
    assert starts == sorted(starts, reverse=True)
    first = listed["items"][-1]
    assert (first["callee"], first["destination"], first["prefix"]) == (
        "4930123456",
        "Germany",
        "49",
    )
    assert (first["duration_seconds"], first["billed_seconds"]) == ("20", 60)
    assert (first["rate"], first["charge"], first["currency"]) == ("0.06", "0.060000", "EUR")
    for hidden in ("cost", "carrier_id", "buy_rate", "buy_card_id", "gateway", "attempts"):
        assert hidden not in first

    async def count(**params: object) -> int:
        response = await acme.client.get("/v1/cdrs", params=params)
        assert response.status_code == 200, response.text
        return len(response.json()["items"])

    assert await count(answered=True) == 4
    assert await count(answered=False) == 1
    assert await count(sip_code=486) == 1
    assert await count(callee="336") == 1
    assert await count(release_reason="rejected") == 1
    day_two = (T0 + timedelta(days=1)).isoformat()
    assert await count(started_from=day_two) == 2
    assert await count(started_to=day_two) == 3
    assert (
        await acme.client.get("/v1/cdrs", params={"started_from": "2026-11-25T00:00:00"})
    ).status_code == 422  # a time without a zone is ambiguous
    backwards = await acme.client.get(
        "/v1/cdrs", params={"started_from": day_two, "started_to": T0.isoformat()}
    )
    assert backwards.status_code == 400

    seen, cursor = [], None
    while True:
        params: dict[str, object] = {"limit": 2, "sort": "started_at"}
        if cursor:
            params["cursor"] = cursor
        page = (await acme.client.get("/v1/cdrs", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5

    one = await acme.client.get(f"/v1/cdrs/{seen[0]}")
    assert one.status_code == 200
    assert one.json()["id"] == seen[0]


async def test_summaries_per_destination_and_day(accounts: NewAccount) -> None:
    acme = await accounts()
    await _traffic(acme)
    by_destination = (await acme.client.get("/v1/cdrs/summary")).json()
    assert by_destination["by"] == "destination"
    rows = {r["key"]: r for r in by_destination["items"]}
    assert set(rows) == {"Germany", "France"}
    germany = rows["Germany"]
    assert (germany["attempts"], germany["answered"], germany["asr"]) == (3, 2, "66.67")
    assert germany["acd_seconds"] == "42.5"  # (20 + 65) / 2
    assert (germany["billed_minutes"], germany["charge"]) == ("3", "0.180000")
    assert germany["minutes"] == "1.42"  # 85 s of talk
    assert "cost" not in germany
    assert "margin" not in germany
    france = rows["France"]
    assert (france["attempts"], france["answered"], france["charge"]) == (2, 2, "0.360000")
    by_day = (await acme.client.get("/v1/cdrs/summary", params={"by": "day"})).json()
    assert [(r["key"], r["attempts"], r["charge"]) for r in by_day["items"]] == [
        (T0.date().isoformat(), 3, "0.180000"),
        ((T0 + timedelta(days=1)).date().isoformat(), 2, "0.360000"),
    ]
    filtered = (
        await acme.client.get("/v1/cdrs/summary", params={"by": "day", "answered": True})
    ).json()
    assert [r["attempts"] for r in filtered["items"]] == [2, 2]


async def test_calls_export_as_csv(accounts: NewAccount) -> None:
    acme = await accounts()
    await _traffic(acme)
    exported = await acme.client.get("/v1/cdrs/export", params={"callee": "49"})
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 3
    assert [r["started_at"] for r in rows] == sorted(r["started_at"] for r in rows)
    first = rows[0]
    assert first["started_at"] == T0.isoformat()
    assert (first["callee"], first["charge"], first["billed_seconds"]) == (
        "4930123456",
        "0.060000",
        "60",
    )
    assert rows[2]["answered_at"] == ""
    assert "cost" not in first
    assert sum(Decimal(r["charge"]) for r in rows) == Decimal("0.18")


async def test_a_large_export_streams_whole(accounts: NewAccount) -> None:
    acme = await accounts()
    calls = [acme.call(seconds=5, started_at=T0 + timedelta(seconds=i)) for i in range(5000)]
    await acme.calls(*calls)
    exported = await acme.client.get("/v1/cdrs/export")
    assert exported.status_code == 200
    assert len(exported.text.splitlines()) == 5001
    last = (T0 + timedelta(seconds=4999)).isoformat()
    assert exported.text.splitlines()[-1].split(",")[1] == last
    # The body is produced in pieces as rows are fetched, never built whole in memory (the
    # ASGI test transport buffers the response, so the generator is read directly).
    chunks = [
        c async for c in cdrs_csv(acme.database, uuid.UUID(acme.id), CdrFilters(), chunk=1000)
    ]
    assert len(chunks) == 1 + 5  # the header, then a chunk per 1,000 rows
    assert b"".join(chunks).decode() == exported.text


async def test_the_ledger_explains_the_balance(accounts: NewAccount) -> None:
    acme = await accounts()
    await _traffic(acme)
    ledger = (await acme.client.get("/v1/ledger")).json()["items"]
    assert [e["kind"] for e in ledger] == ["call_charge"] * 4  # the unanswered call is free
    assert sum(Decimal(e["amount"]) for e in ledger) == Decimal("-0.54")
    account = (await acme.client.get("/v1/account")).json()
    assert account["balance"] == "-0.540000"
    # Each entry carries the balance right after it: the running total of the charges.
    after = sorted((Decimal(e["balance_after"]) for e in ledger), reverse=True)
    assert after == [Decimal("-0.06"), Decimal("-0.18"), Decimal("-0.30"), Decimal("-0.54")]
    assert {e["currency"] for e in ledger} == {"EUR"}
    assert "author" not in ledger[0]
    charges = (await acme.client.get("/v1/ledger", params={"kind": "payment"})).json()
    assert charges["items"] == []
