from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.web.pagination import Page, PageParams
from services.switch_api.deps import CustomersRead, CustomersWrite, LiveDep, UnitOfWorkDep
from services.switch_api.openapi import errors
from services.switch_api.sip_users.schemas import (
    GeneratedPassword,
    SipUser,
    SipUserCreate,
    SipUserCreated,
    SipUserUpdate,
)
from services.switch_api.sip_users.service import SipUserService

router = APIRouter(prefix="/v1/sip-users", tags=["sip-users"])


@router.get("", operation_id="sip_users_list", responses=errors(400))
async def list_sip_users(
    _: CustomersRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`username` or `created_at`; `-` reverses.")] = (
        "username"
    ),
    customer_id: uuid.UUID | None = None,
    username_prefix: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[SipUser]:
    """List SIP users."""
    result = await SipUserService(uow, live).list(
        customer_id=customer_id,
        username_prefix=username_prefix,
        sort=sort,
        cursor=page.cursor,
        limit=page.limit,
    )
    return Page[SipUser](
        items=[SipUser.model_validate(u) for u in result.items], next_cursor=result.next_cursor
    )


@router.post(
    "",
    operation_id="sip_users_create",
    status_code=status.HTTP_201_CREATED,
    responses=errors(409),
)
async def create_sip_user(
    _: CustomersWrite, uow: UnitOfWorkDep, live: LiveDep, data: SipUserCreate, response: Response
) -> SipUserCreated:
    """Create a SIP user (409 "Duplicate User Detected" / "No channel capacity available for
    your account")."""
    user, generated = await SipUserService(uow, live).create(data)
    response.headers["Location"] = f"/v1/sip-users/{user.id}"
    return SipUserCreated(sip_user=SipUser.model_validate(user), generated_password=generated)


@router.get("/{user_id}", operation_id="sip_users_get", responses=errors(404))
async def get_sip_user(
    _: CustomersRead, uow: UnitOfWorkDep, live: LiveDep, user_id: uuid.UUID
) -> SipUser:
    """Get a SIP user (never its password)."""
    return SipUser.model_validate(await SipUserService(uow, live).get(user_id))


@router.patch("/{user_id}", operation_id="sip_users_update", responses=errors(404, 409))
async def update_sip_user(
    _: CustomersWrite, uow: UnitOfWorkDep, live: LiveDep, user_id: uuid.UUID, data: SipUserUpdate
) -> SipUser:
    """Change a SIP user (a new password replaces the stored hashes)."""
    return SipUser.model_validate(await SipUserService(uow, live).update(user_id, data))


@router.delete(
    "/{user_id}",
    operation_id="sip_users_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_sip_user(
    _: CustomersWrite, uow: UnitOfWorkDep, live: LiveDep, user_id: uuid.UUID
) -> None:
    """Delete a SIP user and its rewrite rules."""
    await SipUserService(uow, live).delete(user_id)


@router.post(
    "/{user_id}/generate-password",
    operation_id="sip_users_generate_password",
    responses=errors(404),
)
async def generate_sip_user_password(
    _: CustomersWrite, uow: UnitOfWorkDep, live: LiveDep, user_id: uuid.UUID
) -> GeneratedPassword:
    """Replace the password with a strong random one, returned only in this response."""
    user, password = await SipUserService(uow, live).generate_password(user_id)
    return GeneratedPassword(sip_user=SipUser.model_validate(user), password=password)
