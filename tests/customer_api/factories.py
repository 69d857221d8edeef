"""A customer account as the tests use it: its id, a customer_api client logged in as one of
its users, and the operator's switch_api client to set things up as the operator would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from libs.billing.cards import CardBook
from libs.billing.ingest import ingest
from libs.bus.cdr import CallEnded
from libs.db import Database
from tests.billing import factories as billing_factories
from tests.identity.factories import TestPerson
from tests.switch_api import factories


@dataclass
class Account:
    __test__ = False

    id: str
    client: httpx.AsyncClient
    operator: httpx.AsyncClient
    person: TestPerson
    database: Database

    async def calls(self, *calls: CallEnded) -> list[str]:
        """Rate and store CDRs of this account through billing's ingest (as the worker does);
        the call ids stored."""
        async with self.database.session() as session:
            result = await ingest(session, list(calls), CardBook())
            await session.commit()
        return result.stored

    def call(self, **fields: Any) -> CallEnded:
        """A CDR of this account (``tests.billing.factories.cdr``'s fields)."""
        return billing_factories.cdr(customer_id=uuid.UUID(self.id), **fields)

    async def sell_card(self, rates: dict[str, tuple[str, str]], **fields: Any) -> dict[str, Any]:
        """A sell card with ``{prefix: (destination, rate)}`` in effect, and a route of this
        account selling on it."""
        card = await factories.rate_card(self.operator, **fields)
        revision = await factories.revision(self.operator, card["id"], name="current")
        for prefix, (destination, rate) in rates.items():
            put = await self.operator.put(
                f"/v1/rate-cards/{card['id']}/revisions/{revision['id']}/rates/{prefix}",
                json={"destination": destination, "rate": rate},
            )
            assert put.status_code in (200, 201), put.text
        activated = await self.operator.post(
            f"/v1/rate-cards/{card['id']}/revisions/{revision['id']}/activate"
        )
        assert activated.status_code == 200, activated.text
        await factories.create(
            self.operator, "/v1/routes", {"customer_id": self.id, "rate_card_id": card["id"]}
        )
        card["revision_id"] = revision["id"]
        return card

    async def schedule(
        self, card: dict[str, Any], rates: dict[str, tuple[str, str]], *, days: int = 7
    ) -> dict[str, Any]:
        """A revision of ``card`` taking effect in ``days`` days."""
        revision = await factories.revision(
            self.operator,
            card["id"],
            name="next",
            effective_from=(datetime.now(UTC) + timedelta(days=days)).isoformat(),
        )
        for prefix, (destination, rate) in rates.items():
            put = await self.operator.put(
                f"/v1/rate-cards/{card['id']}/revisions/{revision['id']}/rates/{prefix}",
                json={"destination": destination, "rate": rate},
            )
            assert put.status_code in (200, 201), put.text
        return revision

    async def sip_user(self, **fields: Any) -> dict[str, Any]:
        """A SIP user made by the operator."""
        return await factories.sip_user(self.operator, self.id, **fields)

    async def ip_auth(self, **fields: Any) -> dict[str, Any]:
        """An IP authentication entry made by the operator."""
        return await factories.ip_auth(self.operator, customer_id=self.id, **fields)
