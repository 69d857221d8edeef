"""Your calls: :class:`libs.accounts.calls.CallRecords` for your account."""

from __future__ import annotations

import uuid
from decimal import Decimal

from libs.accounts.calls import CallFilter, CallRecords
from libs.accounts.calls import CallSummary as Totals
from libs.db import KeysetPage, UnitOfWork
from libs.db.models import Cdr
from libs.errors import BadRequest, NotFound
from services.customer_api.cdrs.schemas import CallSummaries, CallSummary


def check_range(where: CallFilter) -> None:
    if (
        where.started_from is not None
        and where.started_before is not None
        and where.started_before <= where.started_from
    ):
        raise BadRequest("started_before must be later than started_from")


def summary_view(totals: Totals) -> CallSummary:
    return CallSummary(
        key=totals.key,
        attempts=totals.attempts,
        answered=totals.answered,
        asr=totals.asr,
        acd_seconds=totals.acd_seconds,
        billed_minutes=totals.billed_minutes,
        charge=totals.charge,
    )


class CdrService:
    def __init__(self, uow: UnitOfWork, customer_id: uuid.UUID) -> None:
        self.records = CallRecords(uow.session, customer_id)

    async def list(
        self, where: CallFilter, *, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[Cdr]:
        check_range(where)
        return await self.records.page(where, sort=sort, cursor=cursor, limit=limit)

    async def get(self, cdr_id: uuid.UUID) -> Cdr:
        cdr = await self.records.get(cdr_id)
        if cdr is None:
            raise NotFound(f"No call record with id {cdr_id}")
        return cdr

    async def summary(self, where: CallFilter, by: str) -> CallSummaries:
        check_range(where)
        groups = await self.records.summary(where, by)
        total = Totals(
            key="total",
            attempts=sum(g.attempts for g in groups),
            answered=sum(g.answered for g in groups),
            duration_ms=sum(g.duration_ms for g in groups),
            billed_seconds=sum(g.billed_seconds for g in groups),
            charge=sum((g.charge for g in groups), Decimal(0)),
        )
        return CallSummaries(
            by=by, items=[summary_view(g) for g in groups], total=summary_view(total)
        )
