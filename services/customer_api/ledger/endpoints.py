from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from libs.accounts.calls import CallRecords, LedgerFilter
from libs.db.models import LedgerKind
from libs.web.pagination import Page, PageParams
from services.customer_api.deps import BillingRead, UnitOfWorkDep
from services.customer_api.ledger.schemas import LedgerEntry
from services.customer_api.openapi import errors

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


@router.get("", operation_id="ledger_list", responses=errors(400))
async def list_ledger(
    tenant: BillingRead,
    uow: UnitOfWorkDep,
    page: PageParams,
    kind: Annotated[LedgerKind | None, Query(description="Only this kind of change.")] = None,
    created_from: Annotated[
        AwareDatetime | None, Query(description="At or after (with zone).")
    ] = None,
    created_to: Annotated[AwareDatetime | None, Query(description="Before (with zone).")] = None,
    sort: Annotated[
        Literal["-created_at", "created_at"], Query(description="Newest first by default.")
    ] = "-created_at",
) -> Page[LedgerEntry]:
    """List your payments, call charges and adjustments, each with the balance after it."""
    result = await CallRecords(uow.session, tenant.customer_id).ledger(
        LedgerFilter(kind=kind, created_from=created_from, created_to=created_to),
        sort=sort,
        cursor=page.cursor,
        limit=page.limit,
    )
    return Page[LedgerEntry](
        items=[LedgerEntry.model_validate(e) for e in result.items],
        next_cursor=result.next_cursor,
    )
