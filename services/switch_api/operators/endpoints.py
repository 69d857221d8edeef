from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.web.pagination import Page, PageParams
from services.switch_api.deps import IdentityDep, UnitOfWorkDep, UsersRead, UsersWrite
from services.switch_api.openapi import errors
from services.switch_api.operators.schemas import (
    Operator,
    OperatorCreate,
    OperatorCreated,
    OperatorUpdate,
)
from services.switch_api.operators.service import OperatorService

router = APIRouter(prefix="/v1/operators", tags=["operators"])


@router.get("", operation_id="operators_list", responses=errors(400))
async def list_operators(
    _: UsersRead,
    uow: UnitOfWorkDep,
    identity: IdentityDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`email` or `created_at`; `-` reverses.")] = "email",
    role_id: uuid.UUID | None = None,
    email_contains: Annotated[str | None, Query(max_length=320)] = None,
) -> Page[Operator]:
    """List operators."""
    result = await OperatorService(uow, identity).list(
        role_id=role_id,
        email_contains=email_contains,
        sort=sort,
        cursor=page.cursor,
        limit=page.limit,
    )
    return Page[Operator](
        items=[Operator.model_validate(o) for o in result.items], next_cursor=result.next_cursor
    )


@router.post(
    "", operation_id="operators_create", status_code=status.HTTP_201_CREATED, responses=errors(409)
)
async def create_operator(
    principal: UsersWrite,
    uow: UnitOfWorkDep,
    identity: IdentityDep,
    data: OperatorCreate,
    response: Response,
) -> OperatorCreated:
    """Create an operator with a one-time password (shown once)."""
    created = await OperatorService(uow, identity).create(principal, data)
    response.headers["Location"] = f"/v1/operators/{created.person.id}"
    return OperatorCreated(
        operator=Operator.model_validate(created.person),
        one_time_password=created.one_time_password,
    )


@router.get("/{operator_id}", operation_id="operators_get", responses=errors(404))
async def get_operator(
    _: UsersRead, uow: UnitOfWorkDep, identity: IdentityDep, operator_id: uuid.UUID
) -> Operator:
    """Get an operator."""
    return Operator.model_validate(await OperatorService(uow, identity).get(operator_id))


@router.patch("/{operator_id}", operation_id="operators_update", responses=errors(404))
async def update_operator(
    principal: UsersWrite,
    uow: UnitOfWorkDep,
    identity: IdentityDep,
    operator_id: uuid.UUID,
    data: OperatorUpdate,
) -> Operator:
    """Change an operator's role, name, allowed source addresses, or disable them."""
    operator = await OperatorService(uow, identity).update(principal, operator_id, data)
    return Operator.model_validate(operator)


@router.delete(
    "/{operator_id}",
    operation_id="operators_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_operator(
    principal: UsersWrite, uow: UnitOfWorkDep, identity: IdentityDep, operator_id: uuid.UUID
) -> None:
    """Delete an operator (their sessions and API keys go with them)."""
    await OperatorService(uow, identity).delete(principal, operator_id)


@router.post(
    "/{operator_id}/unlock",
    operation_id="operators_unlock",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def unlock_operator(
    _: UsersWrite, uow: UnitOfWorkDep, identity: IdentityDep, operator_id: uuid.UUID
) -> None:
    """Lift the login delay or lockout of an operator's account."""
    await OperatorService(uow, identity).unlock(operator_id)
