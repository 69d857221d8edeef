from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.web.pagination import Page, PageParams
from services.switch_api.deps import LiveDep, RoutingRead, RoutingWrite, UnitOfWorkDep
from services.switch_api.openapi import errors
from services.switch_api.routes.schemas import Route, RouteCreate, RouteUpdate
from services.switch_api.routes.service import RouteService

router = APIRouter(prefix="/v1/routes", tags=["routes"])


@router.get("", operation_id="routes_list", responses=errors(400))
async def list_routes(
    _: RoutingRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    page: PageParams,
    sort: Annotated[
        str, Query(description="`name`, `priority` or `created_at`; `-` reverses.")
    ] = "created_at",
    customer_id: uuid.UUID | None = None,
    rate_card_id: uuid.UUID | None = None,
    tech_prefix: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[Route]:
    """List routes."""
    result = await RouteService(uow, live).list(
        customer_id=customer_id,
        rate_card_id=rate_card_id,
        tech_prefix=tech_prefix,
        sort=sort,
        cursor=page.cursor,
        limit=page.limit,
    )
    return Page[Route](
        items=[Route.model_validate(r) for r in result.items], next_cursor=result.next_cursor
    )


@router.post(
    "", operation_id="routes_create", status_code=status.HTTP_201_CREATED, responses=errors()
)
async def create_route(
    _: RoutingWrite, uow: UnitOfWorkDep, live: LiveDep, data: RouteCreate, response: Response
) -> Route:
    """Create a route for a customer."""
    route = await RouteService(uow, live).create(data)
    response.headers["Location"] = f"/v1/routes/{route.id}"
    return Route.model_validate(route)


@router.get("/{route_id}", operation_id="routes_get", responses=errors(404))
async def get_route(
    _: RoutingRead, uow: UnitOfWorkDep, live: LiveDep, route_id: uuid.UUID
) -> Route:
    """Get a route."""
    return Route.model_validate(await RouteService(uow, live).get(route_id))


@router.patch("/{route_id}", operation_id="routes_update", responses=errors(404))
async def update_route(
    _: RoutingWrite, uow: UnitOfWorkDep, live: LiveDep, route_id: uuid.UUID, data: RouteUpdate
) -> Route:
    """Change a route."""
    return Route.model_validate(await RouteService(uow, live).update(route_id, data))


@router.delete(
    "/{route_id}",
    operation_id="routes_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_route(
    _: RoutingWrite, uow: UnitOfWorkDep, live: LiveDep, route_id: uuid.UUID
) -> None:
    """Delete a route."""
    await RouteService(uow, live).delete(route_id)
