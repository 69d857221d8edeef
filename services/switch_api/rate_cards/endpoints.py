from __future__ import annotations

import tempfile
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from libs.db import Database
from libs.db.models import RateCardDirection
from libs.errors import BadRequest, NotFound
from libs.web.pagination import Page, PageParams
from services.switch_api.deps import LiveDep, RatesRead, RatesWrite, UnitOfWorkDep
from services.switch_api.openapi import errors
from services.switch_api.rate_cards.progress import ImportTracker
from services.switch_api.rate_cards.schemas import (
    ImportFormat,
    ImportMode,
    ImportProgress,
    ImportResult,
    Rate,
    RateCard,
    RateCardCreate,
    RateCardUpdate,
    RatePage,
    RateWrite,
    Revision,
    RevisionCreate,
    RevisionUpdate,
)
from services.switch_api.rate_cards.service import RateCardService, export_rows

router = APIRouter(prefix="/v1/rate-cards", tags=["rate-cards"])
imports_router = APIRouter(prefix="/v1/rate-imports", tags=["rate-cards"])

#: Largest upload accepted (a 500,000-row CSV is ~25 MB).
MAX_UPLOAD = 1 << 30
#: Uploads stay in memory up to this size, then spill to a temporary file.
SPOOL_IN_MEMORY = 8 << 20


def _tracker(request: Request) -> ImportTracker:
    tracker = getattr(request.app.state, "rate_imports", None)
    if tracker is None:
        tracker = request.app.state.rate_imports = ImportTracker()
    return tracker


TrackerDep = Annotated[ImportTracker, Depends(_tracker)]
PrefixPath = Annotated[str, Path(pattern=r"^[0-9]{1,32}$", examples=["4420"])]


@router.get("", operation_id="rate_cards_list", responses=errors(400))
async def list_rate_cards(
    _: RatesRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`name` or `created_at`; `-` reverses.")] = "name",
    direction: RateCardDirection | None = None,
    name_contains: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[RateCard]:
    """List rate cards."""
    result = await RateCardService(uow, live).list(
        direction=direction,
        name_contains=name_contains,
        sort=sort,
        cursor=page.cursor,
        limit=page.limit,
    )
    return Page[RateCard](
        items=[RateCard.model_validate(c) for c in result.items], next_cursor=result.next_cursor
    )


@router.post(
    "", operation_id="rate_cards_create", status_code=status.HTTP_201_CREATED, responses=errors(409)
)
async def create_rate_card(
    _: RatesWrite, uow: UnitOfWorkDep, live: LiveDep, data: RateCardCreate, response: Response
) -> RateCard:
    """Create a rate card (then add a revision and import its rates)."""
    card = await RateCardService(uow, live).create(data)
    response.headers["Location"] = f"/v1/rate-cards/{card.id}"
    return RateCard.model_validate(card)


@router.get("/{card_id}", operation_id="rate_cards_get", responses=errors(404))
async def get_rate_card(
    _: RatesRead, uow: UnitOfWorkDep, live: LiveDep, card_id: uuid.UUID
) -> RateCard:
    """Get a rate card."""
    return RateCard.model_validate(await RateCardService(uow, live).get(card_id))


@router.patch("/{card_id}", operation_id="rate_cards_update", responses=errors(404, 409))
async def update_rate_card(
    _: RatesWrite, uow: UnitOfWorkDep, live: LiveDep, card_id: uuid.UUID, data: RateCardUpdate
) -> RateCard:
    """Change a rate card's name, precision, rounding or default increments."""
    return RateCard.model_validate(await RateCardService(uow, live).update(card_id, data))


@router.delete(
    "/{card_id}",
    operation_id="rate_cards_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 409),
)
async def delete_rate_card(
    _: RatesWrite, uow: UnitOfWorkDep, live: LiveDep, card_id: uuid.UUID
) -> None:
    """Delete a rate card and its revisions (refused while carriers or routes use it)."""
    await RateCardService(uow, live).delete(card_id)


@router.get(
    "/{card_id}/revisions", operation_id="rate_card_revisions_list", responses=errors(400, 404)
)
async def list_revisions(
    _: RatesRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    card_id: uuid.UUID,
    page: PageParams,
    sort: Annotated[
        str, Query(description="`created_at` or `effective_from`; `-` reverses.")
    ] = "created_at",
) -> Page[Revision]:
    """List a card's revisions with their status (draft, scheduled, active, superseded)."""
    items, cursor = await RateCardService(uow, live).list_revisions(
        card_id, sort=sort, cursor=page.cursor, limit=page.limit
    )
    return Page[Revision](items=items, next_cursor=cursor)


@router.post(
    "/{card_id}/revisions",
    operation_id="rate_card_revisions_create",
    status_code=status.HTTP_201_CREATED,
    responses=errors(404, 409),
)
async def create_revision(
    _: RatesWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    card_id: uuid.UUID,
    data: RevisionCreate,
    response: Response,
) -> Revision:
    """Create a revision: a draft, or scheduled for a future instant (optionally a copy)."""
    revision = await RateCardService(uow, live).create_revision(card_id, data)
    response.headers["Location"] = f"/v1/rate-cards/{card_id}/revisions/{revision.id}"
    return revision


@router.get(
    "/{card_id}/revisions/{revision_id}",
    operation_id="rate_card_revisions_get",
    responses=errors(404),
)
async def get_revision(
    _: RatesRead, uow: UnitOfWorkDep, live: LiveDep, card_id: uuid.UUID, revision_id: uuid.UUID
) -> Revision:
    """Get a revision."""
    return await RateCardService(uow, live).get_revision(card_id, revision_id)


@router.patch(
    "/{card_id}/revisions/{revision_id}",
    operation_id="rate_card_revisions_update",
    responses=errors(404, 409),
)
async def update_revision(
    _: RatesWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    card_id: uuid.UUID,
    revision_id: uuid.UUID,
    data: RevisionUpdate,
) -> Revision:
    """Rename a revision, or (re)schedule one that has not taken effect."""
    return await RateCardService(uow, live).update_revision(card_id, revision_id, data)


@router.post(
    "/{card_id}/revisions/{revision_id}/activate",
    operation_id="rate_card_revisions_activate",
    responses=errors(404, 409),
)
async def activate_revision(
    _: RatesWrite, uow: UnitOfWorkDep, live: LiveDep, card_id: uuid.UUID, revision_id: uuid.UUID
) -> Revision:
    """Put a draft or scheduled revision in effect now (the previous one is kept)."""
    return await RateCardService(uow, live).activate_revision(card_id, revision_id)


@router.delete(
    "/{card_id}/revisions/{revision_id}",
    operation_id="rate_card_revisions_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 409),
)
async def delete_revision(
    _: RatesWrite, uow: UnitOfWorkDep, live: LiveDep, card_id: uuid.UUID, revision_id: uuid.UUID
) -> None:
    """Delete a draft or scheduled revision (those that took effect are kept)."""
    await RateCardService(uow, live).delete_revision(card_id, revision_id)


@router.get(
    "/{card_id}/revisions/{revision_id}/rates",
    operation_id="rate_card_rates_list",
    responses=errors(400, 404),
)
async def list_rates(
    _: RatesRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    card_id: uuid.UUID,
    revision_id: uuid.UUID,
    page: PageParams,
    prefix_starts: Annotated[str | None, Query(pattern=r"^[0-9]{1,32}$")] = None,
) -> RatePage:
    """List a revision's rates by prefix."""
    rows, cursor = await RateCardService(uow, live).list_rates(
        card_id, revision_id, cursor=page.cursor, limit=page.limit, prefix_starts=prefix_starts
    )
    return RatePage(items=[Rate.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/{card_id}/revisions/{revision_id}/rates/export",
    operation_id="rate_card_rates_export",
    responses={
        **errors(404),
        200: {"content": {"text/csv": {}}, "description": "The rates as CSV (streamed)."},
    },
    response_class=StreamingResponse,
)
async def export_rates(
    _: RatesRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    request: Request,
    card_id: uuid.UUID,
    revision_id: uuid.UUID,
) -> StreamingResponse:
    """Export a revision's rates as CSV (the import's default columns), streamed."""
    await RateCardService(uow, live).revision(card_id, revision_id)
    database: Database = request.app.state.database
    return StreamingResponse(
        export_rows(database, revision_id),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="rates-{revision_id}.csv"'},
    )


@router.post(
    "/{card_id}/revisions/{revision_id}/rates/import",
    operation_id="rate_card_rates_import",
    responses=errors(404, 409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A CSV file, or an open rate card (application/json).",
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "prefix,destination,rate\n44,UK,0.0100\n4420,UK London,0.0085\n",
                },
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def import_rates(
    _: RatesWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    tracker: TrackerDep,
    request: Request,
    card_id: uuid.UUID,
    revision_id: uuid.UUID,
    format: Annotated[
        ImportFormat | None,
        Query(description="Default: from Content-Type (application/json: open rate card)."),
    ] = None,
    mode: ImportMode = ImportMode.REPLACE,
    columns: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="CSV column mapping `field=column,…` (column: a header name or a "
            "1-based number), e.g. `prefix=Code,destination=Country,rate=Price`.",
        ),
    ] = None,
    delimiter: Annotated[str, Query(min_length=1, max_length=1)] = ",",
    header: Annotated[bool, Query(description="The CSV's first line names the columns.")] = True,
    card: Annotated[
        str | None, Query(max_length=200, description="Open rate card: the card to import.")
    ] = None,
    import_id: Annotated[
        uuid.UUID | None,
        Query(description="Name the import to follow it at GET /v1/rate-imports/{import_id}."),
    ] = None,
) -> ImportResult:
    """Import rates (all or nothing; each invalid row is reported with its line)."""
    if format is None:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        format = ImportFormat.OPEN_RATE_CARD if content_type.endswith("json") else ImportFormat.CSV
    upload = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise BadRequest(f"the upload is larger than {MAX_UPLOAD >> 20} MiB")
            upload.write(chunk)
        upload.seek(0)
        return await RateCardService(uow, live, tracker).import_rates(
            card_id,
            revision_id,
            upload,
            size=size,
            format=format,
            mode=mode,
            import_id=import_id or uuid.uuid4(),
            delimiter=delimiter,
            header=header,
            columns=columns,
            card_name=card,
        )
    finally:
        upload.close()


@router.get(
    "/{card_id}/revisions/{revision_id}/rates/{prefix}",
    operation_id="rate_card_rates_get",
    responses=errors(404),
)
async def get_rate(
    _: RatesRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    card_id: uuid.UUID,
    revision_id: uuid.UUID,
    prefix: PrefixPath,
) -> Rate:
    """Get the rate of one prefix."""
    return Rate.model_validate(
        await RateCardService(uow, live).get_rate(card_id, revision_id, prefix)
    )


@router.put(
    "/{card_id}/revisions/{revision_id}/rates/{prefix}",
    operation_id="rate_card_rates_put",
    responses=errors(404, 409),
)
async def put_rate(
    _: RatesWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    card_id: uuid.UUID,
    revision_id: uuid.UUID,
    prefix: PrefixPath,
    data: RateWrite,
    response: Response,
) -> Rate:
    """Set the rate of one prefix (created or replaced) in a draft or scheduled revision."""
    rate, created = await RateCardService(uow, live).put_rate(card_id, revision_id, prefix, data)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return Rate.model_validate(rate)


@router.delete(
    "/{card_id}/revisions/{revision_id}/rates/{prefix}",
    operation_id="rate_card_rates_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 409),
)
async def delete_rate(
    _: RatesWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    card_id: uuid.UUID,
    revision_id: uuid.UUID,
    prefix: PrefixPath,
) -> None:
    """Remove one prefix from a draft or scheduled revision."""
    await RateCardService(uow, live).delete_rate(card_id, revision_id, prefix)


@imports_router.get("/{import_id}", operation_id="rate_imports_get", responses=errors(404))
async def get_rate_import(
    _: RatesRead, tracker: TrackerDep, import_id: uuid.UUID
) -> ImportProgress:
    """Follow an import's progress (rows and bytes read) while its upload request runs."""
    running = tracker.get(import_id)
    if running is None:
        raise NotFound(f"No import {import_id} on this switch_api instance")
    return running.view()
