"""``/v1/lookup``: the datasets lookup_api answers from, and API keys' lookup access."""

from __future__ import annotations

import tempfile
import uuid
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from libs.db import utcnow
from libs.db.models.lookup import DatasetKind
from libs.errors import BadRequest, NotFound
from libs.web.pagination import Page, PageParams
from services.switch_api.deps import (
    LiveDep,
    RoutingRead,
    RoutingWrite,
    SecurityRead,
    SecurityWrite,
    UnitOfWorkDep,
)
from services.switch_api.lookup.schemas import (
    Dataset,
    DatasetCreate,
    DatasetImportProgress,
    DatasetImportResult,
    DatasetUpdate,
    LookupAccess,
    LookupAccessPut,
    Usage,
)
from services.switch_api.lookup.service import (
    AccessService,
    DatasetPublisher,
    DatasetService,
    ImportTracker,
)
from services.switch_api.openapi import errors

router = APIRouter(prefix="/v1/lookup", tags=["lookup"])

#: Largest upload: ten million LRN rows are ~350 MB of CSV.
MAX_UPLOAD = 2 << 30
SPOOL_IN_MEMORY = 8 << 20


def _publisher(request: Request) -> DatasetPublisher:
    return request.app.state.lookup_datasets  # type: ignore[no-any-return]


def _tracker(request: Request) -> ImportTracker:
    return request.app.state.lookup_imports  # type: ignore[no-any-return]


PublisherDep = Annotated[DatasetPublisher, Depends(_publisher)]
TrackerDep = Annotated[ImportTracker, Depends(_tracker)]


@router.get("/datasets", operation_id="lookup_datasets_list", responses=errors(400))
async def list_datasets(
    _: RoutingRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    publisher: PublisherDep,
    page: PageParams,
    kind: DatasetKind | None = None,
    sort: Annotated[str, Query(description="`name` or `created_at`; `-` reverses.")] = "name",
) -> Page[Dataset]:
    """List lookup datasets (LRN, CNAM, do-not-call lists)."""
    result = await DatasetService(uow, live, publisher).list(
        kind=kind.value if kind else None, sort=sort, cursor=page.cursor, limit=page.limit
    )
    return Page[Dataset](
        items=[Dataset.model_validate(d) for d in result.items], next_cursor=result.next_cursor
    )


@router.post(
    "/datasets",
    operation_id="lookup_datasets_create",
    status_code=status.HTTP_201_CREATED,
    responses=errors(409),
)
async def create_dataset(
    _: RoutingWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    publisher: PublisherDep,
    data: DatasetCreate,
    response: Response,
) -> Dataset:
    """Create a dataset (then import its rows)."""
    dataset = await DatasetService(uow, live, publisher).create(data)
    response.headers["Location"] = f"/v1/lookup/datasets/{dataset.id}"
    return Dataset.model_validate(dataset)


@router.get("/datasets/{dataset_id}", operation_id="lookup_datasets_get", responses=errors(404))
async def get_dataset(
    _: RoutingRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    publisher: PublisherDep,
    dataset_id: uuid.UUID,
) -> Dataset:
    """Get a dataset."""
    return Dataset.model_validate(await DatasetService(uow, live, publisher).get(dataset_id))


@router.patch(
    "/datasets/{dataset_id}", operation_id="lookup_datasets_update", responses=errors(404, 409)
)
async def update_dataset(
    _: RoutingWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    publisher: PublisherDep,
    dataset_id: uuid.UUID,
    data: DatasetUpdate,
) -> Dataset:
    """Rename a dataset or change its description or priority."""
    dataset = await DatasetService(uow, live, publisher).update(dataset_id, data)
    return Dataset.model_validate(dataset)


@router.delete(
    "/datasets/{dataset_id}",
    operation_id="lookup_datasets_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_dataset(
    _: RoutingWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    publisher: PublisherDep,
    dataset_id: uuid.UUID,
) -> None:
    """Delete a dataset: lookup_api stops answering from it."""
    await DatasetService(uow, live, publisher).delete(dataset_id)


@router.post(
    "/datasets/{dataset_id}/import",
    operation_id="lookup_datasets_import",
    responses=errors(404, 409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "CSV: lrn `number,lrn,operator`; cnam `number,name`; dnc "
            "`number[,prefix]` (an entry ending in `*` is a prefix).",
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "number,lrn,operator\n+12125550123,2125550000,VZN\n",
                }
            },
        }
    },
)
async def import_dataset(
    _: RoutingWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    publisher: PublisherDep,
    tracker: TrackerDep,
    request: Request,
    dataset_id: uuid.UUID,
    header: Annotated[bool, Query(description="The first line names the columns.")] = True,
    delimiter: Annotated[str, Query(min_length=1, max_length=1)] = ",",
    prepend: Annotated[
        str,
        Query(max_length=3, description="Digits put before every number and LRN (1 for NANP)."),
    ] = "",
    import_id: Annotated[
        uuid.UUID | None,
        Query(description="Name the import to follow it at GET /v1/lookup/imports/{import_id}."),
    ] = None,
) -> DatasetImportResult:
    """Replace a dataset's rows (all or nothing; each invalid row is reported with its line)."""
    upload = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise BadRequest(f"the upload is larger than {MAX_UPLOAD >> 20} MiB")
            upload.write(chunk)
        upload.seek(0)
        return await DatasetService(uow, live, publisher, tracker).import_rows(
            dataset_id,
            upload,
            size=size,
            import_id=import_id or uuid.uuid4(),
            header=header,
            delimiter=delimiter,
            prepend=prepend,
        )
    finally:
        upload.close()


@router.get("/imports/{import_id}", operation_id="lookup_imports_get", responses=errors(404))
async def get_import(
    _: RoutingRead, tracker: TrackerDep, import_id: uuid.UUID
) -> DatasetImportProgress:
    """Follow a dataset import's progress (rows and bytes read) while its upload runs."""
    running = tracker.get(import_id)
    if running is None:
        raise NotFound(f"No import {import_id} on this switch_api instance")
    return running.view()


@router.get("/access/{api_key_id}", operation_id="lookup_access_get", responses=errors(404))
async def get_access(
    _: SecurityRead, uow: UnitOfWorkDep, live: LiveDep, api_key_id: uuid.UUID
) -> LookupAccess:
    """An API key's lookup access: its rate limit and daily quota."""
    return LookupAccess.model_validate(await AccessService(uow, live).get(api_key_id))


@router.put("/access/{api_key_id}", operation_id="lookup_access_put", responses=errors(404, 409))
async def put_access(
    _: SecurityWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    api_key_id: uuid.UUID,
    data: LookupAccessPut,
) -> LookupAccess:
    """Let an API key (an operator's or a customer's) use lookup_api, with these limits."""
    return LookupAccess.model_validate(await AccessService(uow, live).put(api_key_id, data))


@router.delete(
    "/access/{api_key_id}",
    operation_id="lookup_access_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_access(
    _: SecurityWrite, uow: UnitOfWorkDep, live: LiveDep, api_key_id: uuid.UUID
) -> None:
    """Withdraw an API key's lookup access: lookup_api refuses it at once."""
    await AccessService(uow, live).delete(api_key_id)


@router.get("/usage", operation_id="lookup_usage_list", responses=errors(400))
async def list_usage(
    _: SecurityRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    api_key_id: uuid.UUID | None = None,
    start: Annotated[date | None, Query(alias="from", description="First UTC day.")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last UTC day.")] = None,
) -> list[Usage]:
    """Lookups per API key and UTC day (all lookup_api nodes; default: the last 31 days)."""
    today = utcnow().date()
    end = end or today
    start = start or end - timedelta(days=30)
    if start > end or (end - start).days > 366:
        raise BadRequest("from must be before to, at most 366 days apart")
    rows = await AccessService(uow, live).usage_between(api_key_id, start, end)
    return [Usage.model_validate(row) for row in rows]
