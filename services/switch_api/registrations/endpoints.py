from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from services.switch_api.deps import CustomersRead, CustomersWrite, UnitOfWorkDep
from services.switch_api.openapi import errors
from services.switch_api.registrations.schemas import (
    Registration,
    SipMessageCreate,
    SipMessageResult,
)
from services.switch_api.registrations.service import list_registrations, send_message

router = APIRouter(tags=["registrations"])


@router.get("/v1/registrations", operation_id="registrations_list", responses=errors(503))
async def get_registrations(
    _: CustomersRead,
    request: Request,
    customer_id: uuid.UUID | None = None,
    sip_user_id: uuid.UUID | None = None,
) -> list[Registration]:
    """List the current SIP registrations, optionally of one customer or SIP user."""
    return await list_registrations(
        getattr(request.app.state, "bus", None), customer_id=customer_id, sip_user_id=sip_user_id
    )


@router.post(
    "/v1/sip-users/{user_id}/messages",
    operation_id="sip_users_send_message",
    responses=errors(404, 409, 503),
)
async def post_sip_user_message(
    _: CustomersWrite,
    uow: UnitOfWorkDep,
    request: Request,
    user_id: uuid.UUID,
    data: SipMessageCreate,
) -> SipMessageResult:
    """Send a SIP MESSAGE to a registered SIP user's phones (it flashes on the phone)."""
    return await send_message(uow, getattr(request.app.state, "bus", None), user_id, data)
