from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from libs.accounts.rates import RateFilter, rates_csv
from libs.web.pagination import PageParams
from services.customer_api.deps import DatabaseDep, RatesRead, UnitOfWorkDep
from services.customer_api.openapi import csv_response, errors
from services.customer_api.rates.schemas import Rate, RateCard, RatePage, Revision
from services.customer_api.rates.service import RateService

router = APIRouter(prefix="/v1/rate-cards", tags=["rates"])

RevisionQuery = Annotated[
    uuid.UUID | None,
    Query(
        description="A scheduled revision (`scheduled_revision.id`); default: the rates in "
        "effect now."
    ),
]
PrefixQuery = Annotated[
    str | None,
    Query(pattern=r"^[0-9]{1,32}$", description="Prefixes starting with these digits."),
]
DestinationQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=200, description="Destinations containing this text."),
]
NumberQuery = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9]{1,32}$",
        description="A dialled number (E.164 digits): the prefixes that cover it; the longest "
        "is the rate it is charged at.",
    ),
]


@router.get("", operation_id="rate_cards_list", responses=errors())
async def list_rate_cards(tenant: RatesRead, uow: UnitOfWorkDep) -> list[RateCard]:
    """List the sell rate cards your routes use."""
    return await RateService(uow, tenant.customer_id).cards()


@router.get("/{card_id}", operation_id="rate_cards_get", responses=errors(404))
async def get_rate_card(tenant: RatesRead, uow: UnitOfWorkDep, card_id: uuid.UUID) -> RateCard:
    """Get one of your rate cards, with its revision in effect and the next scheduled one."""
    return await RateService(uow, tenant.customer_id).card(card_id)


@router.get("/{card_id}/rates", operation_id="rate_cards_rates_list", responses=errors(400, 404))
async def list_rates(
    tenant: RatesRead,
    uow: UnitOfWorkDep,
    card_id: uuid.UUID,
    page: PageParams,
    revision_id: RevisionQuery = None,
    prefix: PrefixQuery = None,
    destination: DestinationQuery = None,
    number: NumberQuery = None,
) -> RatePage:
    """Search a card's rates by prefix, destination or dialled number (by prefix, paginated)."""
    revision, rows, cursor = await RateService(uow, tenant.customer_id).page(
        card_id,
        revision_id,
        RateFilter(prefix=prefix, destination=destination, number=number),
        cursor=page.cursor,
        limit=page.limit,
    )
    return RatePage(
        revision=Revision.model_validate(revision),
        items=[Rate.model_validate(r) for r in rows],
        next_cursor=cursor,
    )


@router.get(
    "/{card_id}/rates/export",
    operation_id="rate_cards_rates_export",
    responses=csv_response("The rates as CSV, streamed (same filters as the list).", 404),
    response_class=StreamingResponse,
)
async def export_rates(
    tenant: RatesRead,
    uow: UnitOfWorkDep,
    database: DatabaseDep,
    card_id: uuid.UUID,
    revision_id: RevisionQuery = None,
    prefix: PrefixQuery = None,
    destination: DestinationQuery = None,
    number: NumberQuery = None,
) -> StreamingResponse:
    """Download a card's rates as CSV (prefix, destination, rate, fee, increments, blocked)."""
    revision = await RateService(uow, tenant.customer_id).revision(card_id, revision_id)
    where = RateFilter(prefix=prefix, destination=destination, number=number)
    return StreamingResponse(
        rates_csv(database, revision.id, where),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="rates-{revision.id}.csv"'},
    )
