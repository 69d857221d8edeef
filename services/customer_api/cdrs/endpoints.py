from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from libs.accounts.calls import cdrs_csv
from libs.billing.cdrs import CdrFilters, GroupBy
from libs.web.pagination import Page, PageParams
from services.customer_api.cdrs.schemas import CallRecord, CallSummaries
from services.customer_api.cdrs.service import CdrService, check_range
from services.customer_api.deps import BillingRead, DatabaseDep, UnitOfWorkDep
from services.customer_api.openapi import csv_response, errors

router = APIRouter(prefix="/v1/cdrs", tags=["cdrs"])


def call_filter(
    started_from: Annotated[
        AwareDatetime | None, Query(description="Calls started at or after (ISO 8601, with zone).")
    ] = None,
    started_to: Annotated[
        AwareDatetime | None, Query(description="Calls started before (ISO 8601, with zone).")
    ] = None,
    callee: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,32}$", description="Dialled numbers starting with.")
    ] = None,
    caller: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,32}$", description="Calling numbers starting with.")
    ] = None,
    sip_code: Annotated[int | None, Query(ge=100, le=699, description="Final SIP code.")] = None,
    release_reason: Annotated[
        str | None, Query(max_length=32, description="e.g. `normal`, `rejected`.")
    ] = None,
    answered: Annotated[
        bool | None, Query(description="`true`: answered calls only; `false`: unanswered only.")
    ] = None,
) -> CdrFilters:
    """The filters every CDR endpoint takes (timestamps must carry a zone: 422 otherwise)."""
    return CdrFilters(
        started_from=started_from,
        started_to=started_to,
        callee=callee,
        caller=caller,
        sip_code=sip_code,
        release_reason=release_reason,
        answered=answered,
    )


Filters = Annotated[CdrFilters, Depends(call_filter)]


@router.get("", operation_id="cdrs_list", responses=errors(400))
async def list_cdrs(
    tenant: BillingRead,
    uow: UnitOfWorkDep,
    where: Filters,
    page: PageParams,
    sort: Annotated[
        Literal["-started_at", "started_at"],
        Query(description="`-started_at` (newest first) or `started_at`."),
    ] = "-started_at",
) -> Page[CallRecord]:
    """List your calls, filtered, newest first (keyset pages)."""
    result = await CdrService(uow, tenant.customer_id).list(
        where, sort=sort, cursor=page.cursor, limit=page.limit
    )
    return Page[CallRecord](
        items=[CallRecord.model_validate(c) for c in result.items],
        next_cursor=result.next_cursor,
    )


@router.get(
    "/export",
    operation_id="cdrs_export",
    responses=csv_response("Your calls as CSV in start order, streamed.", 400),
    response_class=StreamingResponse,
)
async def export_cdrs(
    tenant: BillingRead, database: DatabaseDep, where: Filters
) -> StreamingResponse:
    """Download your calls as CSV (same filters as the list), streamed for large ranges."""
    check_range(where)
    return StreamingResponse(
        cdrs_csv(database, tenant.customer_id, where),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="cdrs.csv"'},
    )


@router.get("/summary", operation_id="cdrs_summary", responses=errors(400))
async def summarise_cdrs(
    tenant: BillingRead,
    uow: UnitOfWorkDep,
    where: Filters,
    by: Annotated[
        Literal["destination", "day"], Query(description="Group by destination or UTC day.")
    ] = "destination",
) -> CallSummaries:
    """Your traffic per destination or per day: attempts, ASR, ACD, minutes and charges."""
    return await CdrService(uow, tenant.customer_id).summary(where, GroupBy(by))


@router.get("/{cdr_id}", operation_id="cdrs_get", responses=errors(404))
async def get_cdr(tenant: BillingRead, uow: UnitOfWorkDep, cdr_id: uuid.UUID) -> CallRecord:
    """Get one of your calls."""
    return CallRecord.model_validate(await CdrService(uow, tenant.customer_id).get(cdr_id))
