"""switch_api's CDR queries, CSV export, summaries, payments, ledger and re-rate, both databases."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import update

from libs.billing.cards import CardBook
from libs.billing.ingest import ingest
from libs.bus.cdr import CallEnded
from libs.db import Database
from libs.db.models import Rate
from tests.billing import factories
from tests.billing.factories import T0, cdr


async def _store(database: Database, *calls: CallEnded) -> None:
    async with database.session() as session:
        await ingest(session, list(calls), CardBook(), now=T0 + timedelta(hours=1))
        await session.commit()


async def _all_pages(api: httpx.AsyncClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = await api.get(
            "/v1/cdrs", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def _traffic(database: Database) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, list[CallEnded]]:
    alice = await factories.customer(database, name="Alice Telecom")
    bob = await factories.customer(database, name="Bob Networks")
    carrier = uuid.uuid4()
    calls = [
        cdr(
            customer_id=alice,
            seconds=60,
            rate="1",
            started_at=T0 + timedelta(minutes=i),
            carrier_id=carrier,
            buy_rate="0.5",
        )
        for i in range(5)
    ] + [
        cdr(
            customer_id=alice,
            seconds=None,
            started_at=T0 + timedelta(minutes=10),
            carrier_id=carrier,
        ),
        cdr(
            customer_id=bob,
            seconds=30,
            rate="1",
            increments=(1, 1),
            started_at=T0 + timedelta(hours=2),
            callee_received="4420555",
            callee_sent="4420555",
            destination="UK",
        ),
    ]
    await _store(database, *calls)
    return alice, bob, carrier, calls


async def test_cdrs_filter_and_paginate(api: httpx.AsyncClient, database: Database) -> None:
    alice, _bob, carrier, calls = await _traffic(database)

    everything = await _all_pages(api, {"limit": 2})
    assert len(everything) == 7
    starts = [c["started_at"] for c in everything]
    assert starts == sorted(starts, reverse=True)  # newest first
    assert len({c["id"] for c in everything}) == 7

    mine = await _all_pages(api, {"customer_id": str(alice), "limit": 3, "sort": "started_at"})
    assert [c["call_id"] for c in mine] == [c.call_id for c in calls[:6]]
    answered = await _all_pages(api, {"customer_id": str(alice), "answered": "true"})
    assert len(answered) == 5
    assert all(c["charge"] == "1.000000" for c in answered)
    unanswered = await _all_pages(api, {"answered": "false"})
    assert [c["sip_code"] for c in unanswered] == [486]
    assert len(await _all_pages(api, {"sip_code": 486, "release_reason": "rejected"})) == 1
    assert len(await _all_pages(api, {"callee": "4420"})) == 1
    assert len(await _all_pages(api, {"carrier_id": str(carrier)})) == 6
    window = {
        "started_from": (T0 + timedelta(minutes=1)).isoformat(),
        "started_to": (T0 + timedelta(minutes=3)).isoformat(),
    }
    assert len(await _all_pages(api, window)) == 2

    one = await api.get(f"/v1/cdrs/{everything[0]['id']}")
    assert one.status_code == 200
    assert one.json()["call_id"] == calls[-1].call_id
    assert (await api.get(f"/v1/cdrs/{uuid.uuid4()}")).status_code == 404
    bad = await api.get(
        "/v1/cdrs",
        params={"started_from": window["started_to"], "started_to": window["started_from"]},
    )
    assert bad.status_code == 400
    assert (await api.get("/v1/cdrs", params={"cursor": "garbage"})).status_code == 400


async def test_csv_export_streams_every_matching_cdr(
    api: httpx.AsyncClient, database: Database
) -> None:
    alice, _, _, calls = await _traffic(database)
    await _store(
        database,
        cdr(
            customer_id=alice,
            seconds=5,
            caller_received="=HYPERLINK(1)",
            started_at=T0 + timedelta(minutes=30),
        ),
    )
    response = await api.get("/v1/cdrs/export", params={"customer_id": str(alice)})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 7
    assert rows[0]["call_id"] == calls[0].call_id  # oldest first
    assert rows[0]["charge"] == "1.000000"
    assert rows[0]["started_at"] == calls[0].started_at.isoformat()
    injected = [r for r in rows if r["caller_received"].startswith("'")]
    assert [r["caller_received"] for r in injected] == ["'=HYPERLINK(1)"]


async def test_summaries_per_customer_carrier_and_destination(
    api: httpx.AsyncClient, database: Database
) -> None:
    alice, bob, carrier, _ = await _traffic(database)
    response = await api.get("/v1/cdrs/summary", params={"group_by": "customer"})
    assert response.status_code == 200
    by_key = {row["key"]: row for row in response.json()}
    a = by_key[str(alice)]
    assert a["name"] == "Alice Telecom"
    assert (a["attempts"], a["answered"]) == (6, 5)
    assert Decimal(a["asr"]) == Decimal("83.33")
    assert Decimal(a["acd"]) == Decimal("60.0")
    assert Decimal(a["minutes"]) == Decimal("5.00")
    assert Decimal(a["charge"]) == Decimal("5")
    assert Decimal(a["cost"]) == Decimal("2.5")
    assert Decimal(a["margin"]) == Decimal("2.5")
    b = by_key[str(bob)]
    assert (b["attempts"], Decimal(b["charge"]), Decimal(b["billed_minutes"])) == (
        1,
        Decimal("0.5"),
        Decimal("0.50"),
    )

    carriers = (await api.get("/v1/cdrs/summary", params={"group_by": "carrier"})).json()
    assert {row["key"]: row["attempts"] for row in carriers} == {str(carrier): 6, None: 1}
    destinations = (await api.get("/v1/cdrs/summary", params={"group_by": "destination"})).json()
    assert {row["key"]: row["attempts"] for row in destinations} == {"Germany": 6, "UK": 1}
    days = (await api.get("/v1/cdrs/summary", params={"group_by": "day"})).json()
    assert days[0]["key"] == T0.date().isoformat()


async def test_payments_and_adjustments_move_the_balance_through_the_ledger(
    api: httpx.AsyncClient, database: Database
) -> None:
    alice = await factories.customer(database, balance=Decimal("0"))
    await _store(database, cdr(customer_id=alice, seconds=60, rate="2"))
    paid = await api.post(
        f"/v1/customers/{alice}/payments", json={"amount": "100.50", "reference": "WIRE-1"}
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["balance_after"] == "98.500000"
    assert paid.json()["author"]
    debit = await api.post(
        f"/v1/customers/{alice}/adjustments",
        json={"kind": "debit", "amount": "8.5", "reference": "TICKET-7", "note": "setup fee"},
    )
    assert debit.status_code == 201, debit.text
    assert debit.json()["amount"] == "-8.500000"
    credit = await api.post(
        f"/v1/customers/{alice}/adjustments", json={"kind": "credit", "amount": "1"}
    )
    assert credit.json()["balance_after"] == "91.000000"
    assert (await api.get(f"/v1/customers/{alice}")).json()["balance"] == "91.000000"

    ledger = (await api.get(f"/v1/customers/{alice}/ledger")).json()["items"]
    assert [e["kind"] for e in ledger] == ["credit", "debit", "payment", "call_charge"]
    assert [e["balance_after"] for e in ledger] == [
        "91.000000",
        "90.000000",
        "98.500000",
        "-2.000000",
    ]
    payments = (await api.get(f"/v1/customers/{alice}/ledger", params={"kind": "payment"})).json()
    assert [e["reference"] for e in payments["items"]] == ["WIRE-1"]

    for body in ({"amount": "-5"}, {"amount": "0"}, {"amount": "1.0000001"}, {"amount": 1, "x": 1}):
        assert (await api.post(f"/v1/customers/{alice}/payments", json=body)).status_code == 422
    missing = uuid.uuid4()
    assert (
        await api.post(f"/v1/customers/{missing}/payments", json={"amount": "1"})
    ).status_code == 404
    assert (await api.get(f"/v1/customers/{missing}/ledger")).status_code == 404


async def test_rerate_applies_a_rate_fix_once(api: httpx.AsyncClient, database: Database) -> None:
    alice = await factories.customer(database, balance=Decimal("10"))
    card, revision = await factories.card(
        database, precision=4, rates={"49": ("1.00", "0", 60, 60)}
    )
    calls = [
        cdr(
            customer_id=alice,
            card_id=card,
            seconds=60,
            rate="1.00",
            started_at=T0 + timedelta(minutes=i),
        )
        for i in range(3)
    ]
    await _store(database, *calls)
    assert await factories.balance(database, alice) == Decimal("7")
    # The rate was wrong: fixed in place (the revision in effect when the calls were made).
    async with database.session() as session:
        await session.execute(
            update(Rate).where(Rate.revision_id == revision).values(rate=Decimal("0.40"))
        )
        await session.commit()
    body = {"started_from": T0.isoformat(), "started_to": (T0 + timedelta(hours=1)).isoformat()}
    report = await api.post("/v1/billing/rerate", json=body)
    assert report.status_code == 200, report.text
    assert report.json() == {"examined": 3, "changed": 3, "difference": "-1.800000", "customers": 1}
    assert await factories.balance(database, alice) == Decimal("8.8")
    again = (await api.post("/v1/billing/rerate", json=body)).json()
    assert (again["changed"], again["difference"]) == (0, "0.000000")
    assert await factories.balance(database, alice) == Decimal("8.8")
    ledger = (await api.get(f"/v1/customers/{alice}/ledger", params={"kind": "rerate"})).json()
    assert [e["amount"] for e in ledger["items"]] == ["0.600000"] * 3
    first = (await api.get("/v1/cdrs", params={"customer_id": str(alice)})).json()["items"][0]
    assert (first["charge"], first["sell_rate"]) == ("0.400000", "0.40000000")
    assert first["rerated_at"] is not None
    reversed_range = {"started_from": body["started_to"], "started_to": body["started_from"]}
    assert (await api.post("/v1/billing/rerate", json=reversed_range)).status_code == 400
