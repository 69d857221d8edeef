from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from libs.web.pagination import Page, PageParams
from services.switch_api.deps import SecurityRead, SecurityWrite, UnitOfWorkDep
from services.switch_api.lockouts.schemas import LoginThrottle
from services.switch_api.lockouts.service import LockoutService
from services.switch_api.openapi import errors

router = APIRouter(prefix="/v1/login-throttles", tags=["login-throttles"])


@router.get("", operation_id="login_throttles_list", responses=errors(400))
async def list_login_throttles(
    _: SecurityRead,
    uow: UnitOfWorkDep,
    page: PageParams,
    locked_only: bool = False,
    sort: Annotated[str, Query(description="`last_failure_at`; `-` reverses.")] = (
        "-last_failure_at"
    ),
) -> Page[LoginThrottle]:
    """List accounts and source addresses with failed logins (delayed or locked)."""
    result = await LockoutService(uow).list(
        locked_only=locked_only, sort=sort, cursor=page.cursor, limit=page.limit
    )
    return Page[LoginThrottle](
        items=[LoginThrottle.model_validate(t) for t in result.items],
        next_cursor=result.next_cursor,
    )


@router.delete(
    "/{throttle_id}",
    operation_id="login_throttles_lift",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def lift_login_throttle(_: SecurityWrite, uow: UnitOfWorkDep, throttle_id: uuid.UUID) -> None:
    """Lift a delay or lockout: the next login attempt is allowed at once."""
    await LockoutService(uow).lift(throttle_id)
