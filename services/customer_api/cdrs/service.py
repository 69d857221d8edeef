"""Your calls: :class:`libs.accounts.calls.CallRecords` for your account."""

from __future__ import annotations

import uuid

from libs.accounts.calls import CallRecords
from libs.billing.cdrs import CdrFilters, GroupBy, Summary
from libs.db import KeysetPage, UnitOfWork
from libs.db.models import Cdr
from libs.errors import BadRequest, NotFound
from services.customer_api.cdrs.schemas import CallSummaries, CallSummary


def check_range(filters: CdrFilters) -> None:
    if (
        filters.started_from is not None
        and filters.started_to is not None
        and filters.started_to <= filters.started_from
    ):
        raise BadRequest("started_to must be later than started_from")


def summary_view(summary: Summary) -> CallSummary:
    return CallSummary(
        key=summary.key or "",
        attempts=summary.attempts,
        answered=summary.answered,
        asr=summary.asr,
        acd_seconds=summary.acd,
        minutes=summary.minutes,
        billed_minutes=summary.billed_minutes,
        charge=summary.charge,
    )


class CdrService:
    def __init__(self, uow: UnitOfWork, customer_id: uuid.UUID) -> None:
        self.records = CallRecords(uow.session, customer_id)

    async def list(
        self, filters: CdrFilters, *, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[Cdr]:
        check_range(filters)
        return await self.records.page(filters, sort=sort, cursor=cursor, limit=limit)

    async def get(self, cdr_id: uuid.UUID) -> Cdr:
        cdr = await self.records.get(cdr_id)
        if cdr is None:
            raise NotFound(f"No call record with id {cdr_id}")
        return cdr

    async def summary(self, filters: CdrFilters, by: GroupBy) -> CallSummaries:
        check_range(filters)
        groups = await self.records.summary(filters, by)
        if by is GroupBy.DAY:  # a calendar reads in date order
            groups = sorted(groups, key=lambda g: g.key or "")
        return CallSummaries(by=by.value, items=[summary_view(g) for g in groups])
