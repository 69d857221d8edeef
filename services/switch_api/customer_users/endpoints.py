from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.web.pagination import Page, PageParams
from services.switch_api.customer_users.schemas import (
    CustomerUser,
    CustomerUserCreate,
    CustomerUserCreated,
    CustomerUserUpdate,
)
from services.switch_api.customer_users.service import CustomerUserService
from services.switch_api.deps import IdentityDep, UnitOfWorkDep, UsersRead, UsersWrite
from services.switch_api.openapi import errors

router = APIRouter(prefix="/v1/customer-users", tags=["customer-users"])


@router.get("", operation_id="customer_users_list", responses=errors(400))
async def list_customer_users(
    _: UsersRead,
    uow: UnitOfWorkDep,
    identity: IdentityDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`email` or `created_at`; `-` reverses.")] = "email",
    customer_id: uuid.UUID | None = None,
) -> Page[CustomerUser]:
    """List customers' users."""
    result = await CustomerUserService(uow, identity).list(
        customer_id=customer_id, sort=sort, cursor=page.cursor, limit=page.limit
    )
    return Page[CustomerUser](
        items=[CustomerUser.model_validate(u) for u in result.items],
        next_cursor=result.next_cursor,
    )


@router.post(
    "",
    operation_id="customer_users_create",
    status_code=status.HTTP_201_CREATED,
    responses=errors(409),
)
async def create_customer_user(
    _: UsersWrite,
    uow: UnitOfWorkDep,
    identity: IdentityDep,
    data: CustomerUserCreate,
    response: Response,
) -> CustomerUserCreated:
    """Create a customer's user with a one-time password (shown once)."""
    created = await CustomerUserService(uow, identity).create(data)
    response.headers["Location"] = f"/v1/customer-users/{created.person.id}"
    return CustomerUserCreated(
        user=CustomerUser.model_validate(created.person),
        one_time_password=created.one_time_password,
    )


@router.get("/{user_id}", operation_id="customer_users_get", responses=errors(404))
async def get_customer_user(
    _: UsersRead, uow: UnitOfWorkDep, identity: IdentityDep, user_id: uuid.UUID
) -> CustomerUser:
    """Get a customer's user."""
    return CustomerUser.model_validate(await CustomerUserService(uow, identity).get(user_id))


@router.patch("/{user_id}", operation_id="customer_users_update", responses=errors(404))
async def update_customer_user(
    _: UsersWrite,
    uow: UnitOfWorkDep,
    identity: IdentityDep,
    user_id: uuid.UUID,
    data: CustomerUserUpdate,
) -> CustomerUser:
    """Change a customer user's role, name, allowed source addresses, or disable them."""
    user = await CustomerUserService(uow, identity).update(user_id, data)
    return CustomerUser.model_validate(user)


@router.delete(
    "/{user_id}",
    operation_id="customer_users_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_customer_user(
    _: UsersWrite, uow: UnitOfWorkDep, identity: IdentityDep, user_id: uuid.UUID
) -> None:
    """Delete a customer's user."""
    await CustomerUserService(uow, identity).delete(user_id)


@router.post(
    "/{user_id}/unlock",
    operation_id="customer_users_unlock",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def unlock_customer_user(
    _: UsersWrite, uow: UnitOfWorkDep, identity: IdentityDep, user_id: uuid.UUID
) -> None:
    """Lift the login delay or lockout of a customer user's account."""
    await CustomerUserService(uow, identity).unlock(user_id)
