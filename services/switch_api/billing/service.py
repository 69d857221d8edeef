from __future__ import annotations

import uuid
from datetime import datetime

from libs.billing import InvalidAdjustment, UnknownCustomer
from libs.billing.accounts import LedgerRepository, adjust, customer_exists
from libs.billing.cdrs import CdrFilters
from libs.billing.ledger import balance_configs
from libs.billing.rerate import RerateReport, rerate
from libs.db import KeysetPage, UnitOfWork, utcnow
from libs.db.listing import list_page
from libs.db.models import LedgerEntry, LedgerKind
from libs.errors import BadRequest, NotFound
from libs.identity import Principal
from services.switch_api.billing.schemas import AdjustmentCreate, PaymentCreate, RerateRequest
from services.switch_api.live import LiveConfig


def author_of(principal: Principal) -> str:
    """Who the ledger names: the operator (or API key) behind the request."""
    return principal.label


class BillingService:
    def __init__(self, uow: UnitOfWork, live: LiveConfig | None = None) -> None:
        self.uow = uow
        self.live = live
        self.ledger = LedgerRepository(uow.session)

    async def pay(
        self, customer_id: uuid.UUID, data: PaymentCreate, principal: Principal
    ) -> LedgerEntry:
        return await self._post(
            customer_id, LedgerKind.PAYMENT, data.amount, data.reference, data.note, principal
        )

    async def adjust(
        self, customer_id: uuid.UUID, data: AdjustmentCreate, principal: Principal
    ) -> LedgerEntry:
        kind = LedgerKind.CREDIT if data.kind == "credit" else LedgerKind.DEBIT
        return await self._post(
            customer_id, kind, data.amount, data.reference, data.note, principal
        )

    async def _post(
        self,
        customer_id: uuid.UUID,
        kind: LedgerKind,
        amount: object,
        reference: str,
        note: str,
        principal: Principal,
    ) -> LedgerEntry:
        try:
            entry, state = await adjust(
                self.uow.session,
                customer_id,
                kind,
                amount,  # type: ignore[arg-type]
                reference=reference,
                author=author_of(principal),
                note=note,
            )
        except UnknownCustomer:
            raise NotFound(f"No customer with id {customer_id}") from None
        except InvalidAdjustment as exc:
            raise BadRequest(str(exc)) from None
        if self.live is not None:
            today = utcnow().date()
            configs = await balance_configs(self.uow.session, [state], today=today)
            self.live.balances_changed(self.uow, configs)
        return entry

    async def list_ledger(
        self,
        customer_id: uuid.UUID,
        *,
        kind: LedgerKind | None,
        created_from: datetime | None,
        created_to: datetime | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[LedgerEntry]:
        if not await customer_exists(self.uow.session, customer_id):
            raise NotFound(f"No customer with id {customer_id}")
        statement = self.ledger.for_customer(
            customer_id, kind=kind, created_from=created_from, created_to=created_to
        )
        return await list_page(self.ledger, statement, sort=sort, cursor=cursor, limit=limit)

    async def rerate(self, data: RerateRequest, principal: Principal) -> RerateReport:
        if data.started_from >= data.started_to:
            raise BadRequest("started_from must be before started_to")
        if data.customer_id is not None and not await customer_exists(
            self.uow.session, data.customer_id
        ):
            raise NotFound(f"No customer with id {data.customer_id}")
        assert self.live is not None
        # Re-rating runs its own transactions: end this one first (on SQLite it would hold the
        # write lock they wait for).
        await self.uow.session.rollback()
        report, configs = await rerate(
            self.live.database,
            CdrFilters(
                started_from=data.started_from,
                started_to=data.started_to,
                customer_id=data.customer_id,
            ),
            author=author_of(principal),
        )
        await self.live.balances.publish(configs)
        return report
