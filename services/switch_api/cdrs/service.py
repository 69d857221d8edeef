from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import select

from libs.billing.cdrs import CdrFilters, CdrRepository, GroupBy, Summary, export_csv
from libs.db import Database, KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import Carrier, Cdr, Customer
from libs.errors import BadRequest, NotFound


def check_range(filters: CdrFilters) -> None:
    if (
        filters.started_from is not None
        and filters.started_to is not None
        and filters.started_from >= filters.started_to
    ):
        raise BadRequest("started_from must be before started_to")


class CdrService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.cdrs = CdrRepository(uow.session)

    async def list(
        self, filters: CdrFilters, *, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[Cdr]:
        check_range(filters)
        return await list_page(
            self.cdrs, self.cdrs.filtered(filters), sort=sort, cursor=cursor, limit=limit
        )

    async def get(self, cdr_id: uuid.UUID) -> Cdr:
        cdr = await self.cdrs.get_one(cdr_id)
        if cdr is None:
            raise NotFound(f"No CDR with id {cdr_id}")
        return cdr

    async def summary(
        self, filters: CdrFilters, group_by: GroupBy
    ) -> Sequence[tuple[Summary, str | None]]:
        """Summaries with the customer's or carrier's name beside each."""
        check_range(filters)
        rows = await self.cdrs.summary(filters, group_by)
        names: dict[str, str] = {}
        model: Any = {GroupBy.CUSTOMER: Customer, GroupBy.CARRIER: Carrier}.get(group_by)
        ids = [uuid.UUID(r.key) for r in rows if r.key is not None] if model else []
        if ids:
            result = await self.uow.session.execute(
                select(model.id, model.name).where(model.id.in_(ids))
            )
            names = {str(object_id): name for object_id, name in result}
        return [(row, names.get(row.key) if row.key else None) for row in rows]


def csv_export(database: Database, filters: CdrFilters) -> AsyncIterator[bytes]:
    check_range(filters)
    return export_csv(database, filters)
