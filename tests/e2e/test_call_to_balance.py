"""Issue 7, done when: a real call ends as a rated CDR the customer sees, its charge taken from
the balance exactly once, and the ledger explaining it.

The whole path, every part real: the operator configures the customer, cards, a carrier and a
route through switch_api (database); the configuration is published into a nats-server of the
test's own the way ``tandem config publish`` does it; sip_core (B2BUA + LivePolicy, in
process) admits a sipp customer's call and routes it to a sipp carrier that answers; the CDR
goes to the CDR stream through the node's CdrSender; the billing worker rates and stores it and
charges the balance; customer_api shows the CDR, the account and the ledger to the customer's
own user.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from libs.bus.cdr import ReleaseReason
from libs.db import Database
from libs.platform.natsd import free_port
from tests.apps import client_for
from tests.e2e.rig import (
    Operator,
    billing,
    carrier_answering,
    customer_call,
    eventually,
    finished,
    plant,
    sip_core,
)
from tests.identity.factories import FakeClock, bearer, login, make_customer_user

pytestmark = pytest.mark.slow

NUMBER = "442079460018"
SELL_RATE = Decimal("0.1200")  # per minute, 30/6 increments: a 3 s call bills 30 s
HOLD_MS = 3000


async def _customer_user(
    app: FastAPI, customer_id: str, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    person = await make_customer_user(app, customer_id=uuid.UUID(customer_id))
    tokens = await login(client, person, clock)
    client.headers.update(bearer(tokens["access_token"]))


async def test_an_answered_call_is_rated_charged_and_explained(
    tmp_path: Path,
    database: Database,
    operator: httpx.AsyncClient,
    customer_app: FastAPI,
    clock: FakeClock,
) -> None:
    setup = Operator(operator)
    customer_id = await setup.customer(payment="10")
    sell_card = await setup.rate_card("sell", {"44": str(SELL_RATE)}, increments=(30, 6))
    carrier_port = free_port()
    carrier_id = await setup.carrier(carrier_port, "44", "0.0100")
    await setup.route(customer_id, sell_card, [carrier_id])

    async with client_for(customer_app) as customer:
        await _customer_user(customer_app, customer_id, clock, customer)
        before = (await customer.get("/v1/account")).json()
        assert Decimal(before["balance"]) == Decimal("10")

        async with plant(tmp_path, database) as switch:
            report = await switch.publish()
            assert not report.deleted
            async with (
                billing(database, switch.connector),
                sip_core(switch.connector, tmp_path / "spool") as node,
            ):
                carrier = await carrier_answering(carrier_port, tmp_path)
                caller = await customer_call(tmp_path, node.port, NUMBER, hold_ms=HOLD_MS)
                await finished(caller, carrier)
                await eventually(lambda: node.cdrs)

                async def rated() -> list[dict[str, object]]:
                    listed = await customer.get("/v1/cdrs")
                    assert listed.status_code == 200, listed.text
                    items: list[dict[str, object]] = listed.json()["items"]
                    return items

                (cdr,) = await eventually(rated)
                # The charge also reaches sip_core's view of the balance (the next call's limit).
                expected_balance = Decimal("10") - Decimal(str(cdr["charge"]))
                balances = node.policy._balances
                await eventually(
                    lambda: Decimal(balances[uuid.UUID(customer_id)].balance) == expected_balance
                )

        (sent,) = node.cdrs
        assert sent.release_reason is ReleaseReason.NORMAL
        assert [str(a.carrier_id) for a in sent.attempts] == [carrier_id]
        talk = Decimal(str(cdr["duration_seconds"]))
        assert Decimal("2.9") <= talk < Decimal("30"), talk  # 3 s held, a loaded machine's slack
        assert cdr["call_id"] == sent.call_id
        assert (cdr["callee"], cdr["prefix"], cdr["destination"]) == (NUMBER, "44", "dest 44")
        assert (cdr["sip_code"], cdr["release_reason"]) == (200, "normal")
        assert (Decimal(str(cdr["rate"])), cdr["billed_seconds"]) == (SELL_RATE, 30)
        charge = Decimal(str(cdr["charge"]))
        assert charge == SELL_RATE * 30 / 60 == Decimal("0.06")
        assert cdr["currency"] == "EUR"

        account = (await customer.get("/v1/account")).json()
        assert Decimal(account["balance"]) == Decimal("10") - charge

        ledger = (await customer.get("/v1/ledger")).json()["items"]
        by_kind = {entry["kind"]: entry for entry in ledger}
        assert sorted(by_kind) == ["call_charge", "payment"]
        assert len(ledger) == 2
        payment, call = by_kind["payment"], by_kind["call_charge"]
        assert Decimal(payment["amount"]) == Decimal("10")
        assert Decimal(payment["balance_after"]) == Decimal("10")
        assert call["call_id"] == sent.call_id
        assert Decimal(call["amount"]) == -charge
        assert Decimal(call["balance_after"]) == Decimal(account["balance"])
        assert sum(Decimal(e["amount"]) for e in ledger) == Decimal(account["balance"])
