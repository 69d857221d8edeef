"""CDR listing, export and summaries for operators (any customer, any carrier)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from libs.billing.cdrs import CdrFilters, GroupBy
from libs.bus.cdr import ReleaseReason
from libs.errors import BadRequest
from libs.web.pagination import Page, PageParams
from services.switch_api.cdrs.schemas import Cdr, CdrSummary
from services.switch_api.cdrs.service import CdrService, csv_export
from services.switch_api.deps import BillingRead, UnitOfWorkDep
from services.switch_api.openapi import errors

router = APIRouter(prefix="/v1/cdrs", tags=["cdrs"])


def cdr_filters(
    started_from: Annotated[
        datetime | None, Query(description="Calls started at or after (ISO 8601 with offset).")
    ] = None,
    started_to: Annotated[datetime | None, Query(description="Calls started before.")] = None,
    customer_id: uuid.UUID | None = None,
    carrier_id: uuid.UUID | None = None,
    caller: Annotated[str | None, Query(max_length=64, description="Caller number prefix.")] = None,
    callee: Annotated[str | None, Query(max_length=64, description="Called number prefix.")] = None,
    sip_code: Annotated[int | None, Query(ge=100, le=699)] = None,
    release_reason: ReleaseReason | None = None,
    answered: Annotated[
        bool | None, Query(description="`true`: answered calls only; `false`: unanswered only.")
    ] = None,
) -> CdrFilters:
    for moment in (started_from, started_to):
        if moment is not None and moment.tzinfo is None:
            raise BadRequest("times need a UTC offset (e.g. 2026-11-25T00:00:00Z)")
    return CdrFilters(
        started_from=started_from,
        started_to=started_to,
        customer_id=customer_id,
        carrier_id=carrier_id,
        caller=caller,
        callee=callee,
        sip_code=sip_code,
        release_reason=release_reason.value if release_reason else None,
        answered=answered,
    )


Filters = Annotated[CdrFilters, Depends(cdr_filters)]


@router.get("", operation_id="cdrs_list", responses=errors(400))
async def list_cdrs(
    _: BillingRead,
    uow: UnitOfWorkDep,
    filters: Filters,
    page: PageParams,
    sort: Annotated[str, Query(description="`started_at`; `-` reverses (newest first).")] = (
        "-started_at"
    ),
) -> Page[Cdr]:
    """List CDRs (newest first by default), filtered."""
    result = await CdrService(uow).list(filters, sort=sort, cursor=page.cursor, limit=page.limit)
    return Page[Cdr](
        items=[Cdr.model_validate(c) for c in result.items], next_cursor=result.next_cursor
    )


@router.get(
    "/export",
    operation_id="cdrs_export",
    responses={**errors(400), 200: {"content": {"text/csv": {}}, "description": "CSV"}},
    response_class=StreamingResponse,
)
async def export_cdrs(_: BillingRead, request: Request, filters: Filters) -> StreamingResponse:
    """Export the filtered CDRs as CSV (oldest first; streamed, any size)."""
    body = csv_export(request.app.state.database, filters)
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cdrs.csv"'},
    )


@router.get("/summary", operation_id="cdrs_summary", responses=errors(400))
async def summarise_cdrs(
    _: BillingRead,
    uow: UnitOfWorkDep,
    filters: Filters,
    group_by: GroupBy = GroupBy.CUSTOMER,
) -> list[CdrSummary]:
    """Attempts, answered calls, ASR, ACD, minutes, charge, cost and margin per group."""
    rows = await CdrService(uow).summary(filters, group_by)
    return [CdrSummary.model_validate({**_fields(row), "name": name}) for row, name in rows]


def _fields(row: object) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__slots__}  # type: ignore[attr-defined]


@router.get("/{cdr_id}", operation_id="cdrs_get", responses=errors(404))
async def get_cdr(_: BillingRead, uow: UnitOfWorkDep, cdr_id: uuid.UUID) -> Cdr:
    """Get one CDR, with its attempts and media statistics."""
    return Cdr.model_validate(await CdrService(uow).get(cdr_id))
