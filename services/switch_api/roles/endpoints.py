from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.web.pagination import Page, PageParams
from services.switch_api.deps import UnitOfWorkDep, UsersRead, UsersWrite
from services.switch_api.openapi import errors
from services.switch_api.roles.schemas import Role, RoleCreate, RoleUpdate
from services.switch_api.roles.service import RoleService

router = APIRouter(prefix="/v1/roles", tags=["roles"])


@router.get("", operation_id="roles_list", responses=errors(400))
async def list_roles(
    _: UsersRead,
    uow: UnitOfWorkDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`name` or `created_at`; `-` reverses.")] = "name",
) -> Page[Role]:
    """List roles."""
    result = await RoleService(uow).list(sort=sort, cursor=page.cursor, limit=page.limit)
    return Page[Role](
        items=[Role.model_validate(r) for r in result.items], next_cursor=result.next_cursor
    )


@router.post(
    "", operation_id="roles_create", status_code=status.HTTP_201_CREATED, responses=errors(409)
)
async def create_role(
    principal: UsersWrite, uow: UnitOfWorkDep, data: RoleCreate, response: Response
) -> Role:
    """Create a custom role (with at most your own rights)."""
    role = await RoleService(uow).create(principal, data)
    response.headers["Location"] = f"/v1/roles/{role.id}"
    return Role.model_validate(role)


@router.get("/{role_id}", operation_id="roles_get", responses=errors(404))
async def get_role(_: UsersRead, uow: UnitOfWorkDep, role_id: uuid.UUID) -> Role:
    """Get a role."""
    return Role.model_validate(await RoleService(uow).get(role_id))


@router.patch("/{role_id}", operation_id="roles_update", responses=errors(404, 409))
async def update_role(
    principal: UsersWrite, uow: UnitOfWorkDep, role_id: uuid.UUID, data: RoleUpdate
) -> Role:
    """Change a custom role (its operators' rights change at their next request)."""
    return Role.model_validate(await RoleService(uow).update(principal, role_id, data))


@router.delete(
    "/{role_id}",
    operation_id="roles_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 409),
)
async def delete_role(principal: UsersWrite, uow: UnitOfWorkDep, role_id: uuid.UUID) -> None:
    """Delete a custom role no operator has."""
    await RoleService(uow).delete(principal, role_id)
