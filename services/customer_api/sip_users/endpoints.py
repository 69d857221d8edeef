from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.web.pagination import Page, PageParams
from services.customer_api.deps import AccountRead, AccountWrite, PublisherDep, UnitOfWorkDep
from services.customer_api.openapi import errors
from services.customer_api.sip_users.schemas import (
    PasswordReset,
    SipUser,
    SipUserCreate,
    SipUserCreated,
    SipUserUpdate,
)
from services.customer_api.sip_users.service import SipUserService

router = APIRouter(prefix="/v1/sip-users", tags=["sip-users"])


@router.get("", operation_id="sip_users_list", responses=errors(400))
async def list_sip_users(
    tenant: AccountRead,
    uow: UnitOfWorkDep,
    publisher: PublisherDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`username` or `created_at`; `-` reverses.")] = (
        "username"
    ),
    username_prefix: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[SipUser]:
    """List your SIP users."""
    result = await SipUserService(uow, publisher, tenant.customer_id).list(
        username_prefix=username_prefix, sort=sort, cursor=page.cursor, limit=page.limit
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
    tenant: AccountWrite,
    uow: UnitOfWorkDep,
    publisher: PublisherDep,
    data: SipUserCreate,
    response: Response,
) -> SipUserCreated:
    """Create a SIP user (409 "Duplicate User Detected" / "No channel capacity available for
    your account")."""
    user, generated = await SipUserService(uow, publisher, tenant.customer_id).create(data)
    response.headers["Location"] = f"/v1/sip-users/{user.id}"
    return SipUserCreated(sip_user=SipUser.model_validate(user), generated_password=generated)


@router.get("/{user_id}", operation_id="sip_users_get", responses=errors(404))
async def get_sip_user(
    tenant: AccountRead, uow: UnitOfWorkDep, publisher: PublisherDep, user_id: uuid.UUID
) -> SipUser:
    """Get one of your SIP users (never its password)."""
    service = SipUserService(uow, publisher, tenant.customer_id)
    return SipUser.model_validate(await service.get(user_id))


@router.patch("/{user_id}", operation_id="sip_users_update", responses=errors(404, 409))
async def update_sip_user(
    tenant: AccountWrite,
    uow: UnitOfWorkDep,
    publisher: PublisherDep,
    user_id: uuid.UUID,
    data: SipUserUpdate,
) -> SipUser:
    """Change a SIP user (its channels stay within your account's capacity)."""
    service = SipUserService(uow, publisher, tenant.customer_id)
    return SipUser.model_validate(await service.update(user_id, data))


@router.delete(
    "/{user_id}",
    operation_id="sip_users_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_sip_user(
    tenant: AccountWrite, uow: UnitOfWorkDep, publisher: PublisherDep, user_id: uuid.UUID
) -> None:
    """Delete a SIP user (its channels return to your account)."""
    await SipUserService(uow, publisher, tenant.customer_id).delete(user_id)


@router.post(
    "/{user_id}/reset-password",
    operation_id="sip_users_reset_password",
    responses=errors(404),
)
async def reset_sip_user_password(
    tenant: AccountWrite, uow: UnitOfWorkDep, publisher: PublisherDep, user_id: uuid.UUID
) -> PasswordReset:
    """Replace the password with a strong random one, shown only in this response."""
    service = SipUserService(uow, publisher, tenant.customer_id)
    user, password = await service.reset_password(user_id)
    return PasswordReset(sip_user=SipUser.model_validate(user), password=password)
