from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from libs.bus import BusConnector
from services.customer_api.deps import AccountRead, PublisherDep, UnitOfWorkDep
from services.customer_api.openapi import errors
from services.customer_api.registrations.schemas import RegistrationList
from services.customer_api.registrations.service import registrations

router = APIRouter(prefix="/v1/registrations", tags=["registrations"])


def _bus(request: Request) -> BusConnector | None:
    connector: BusConnector | None = getattr(request.app.state, "bus", None)
    return connector


@router.get("", operation_id="registrations_list", responses=errors(404, 503))
async def list_registrations(
    tenant: AccountRead,
    uow: UnitOfWorkDep,
    publisher: PublisherDep,
    request: Request,
    sip_user_id: Annotated[
        uuid.UUID | None, Query(description="Only this SIP user's registrations.")
    ] = None,
) -> RegistrationList:
    """List where your SIP users are registered now (503 while the switch nodes' shared
    registrations cannot be read)."""
    return await registrations(
        uow, publisher, _bus(request), tenant.customer_id, sip_user_id=sip_user_id
    )
