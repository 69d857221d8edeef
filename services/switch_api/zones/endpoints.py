from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.web.pagination import Page, PageParams
from services.switch_api.deps import LiveDep, RoutingRead, RoutingWrite, UnitOfWorkDep
from services.switch_api.openapi import errors
from services.switch_api.zones.schemas import Zone, ZoneCreate, ZoneUpdate
from services.switch_api.zones.service import ZoneService

router = APIRouter(prefix="/v1/zones", tags=["zones"])

ZoneId = Annotated[uuid.UUID, "zone id"]


@router.get("", operation_id="zones_list", responses=errors(400))
async def list_zones(
    _: RoutingRead,
    uow: UnitOfWorkDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`name` or `created_at`; `-` reverses.")] = "name",
    name_prefix: Annotated[str | None, Query(max_length=63)] = None,
) -> Page[Zone]:
    """List zones."""
    result = await ZoneService(uow).list(
        name_prefix=name_prefix, sort=sort, cursor=page.cursor, limit=page.limit
    )
    return Page[Zone](
        items=[Zone.model_validate(z) for z in result.items], next_cursor=result.next_cursor
    )


@router.post(
    "", operation_id="zones_create", status_code=status.HTTP_201_CREATED, responses=errors(409)
)
async def create_zone(
    _: RoutingWrite, uow: UnitOfWorkDep, data: ZoneCreate, response: Response
) -> Zone:
    """Create a zone."""
    zone = await ZoneService(uow).create(data)
    response.headers["Location"] = f"/v1/zones/{zone.id}"
    return Zone.model_validate(zone)


@router.get("/{zone_id}", operation_id="zones_get", responses=errors(404))
async def get_zone(_: RoutingRead, uow: UnitOfWorkDep, zone_id: uuid.UUID) -> Zone:
    """Get a zone."""
    return Zone.model_validate(await ZoneService(uow).get(zone_id))


@router.patch("/{zone_id}", operation_id="zones_update", responses=errors(404, 409))
async def update_zone(
    _: RoutingWrite, uow: UnitOfWorkDep, live: LiveDep, zone_id: uuid.UUID, data: ZoneUpdate
) -> Zone:
    """Change a zone's name or description."""
    return Zone.model_validate(await ZoneService(uow, live).update(zone_id, data))


@router.delete(
    "/{zone_id}",
    operation_id="zones_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_zone(
    _: RoutingWrite, uow: UnitOfWorkDep, live: LiveDep, zone_id: uuid.UUID
) -> None:
    """Delete a zone (routes and IP auth entries in it lose their media zone)."""
    await ZoneService(uow, live).delete(zone_id)
