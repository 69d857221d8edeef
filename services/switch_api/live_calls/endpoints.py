from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from services.switch_api.deps import CallsRead, CallsWrite
from services.switch_api.live_calls.schemas import LiveCallList
from services.switch_api.live_calls.service import hang_up, list_live_calls
from services.switch_api.openapi import errors

router = APIRouter(prefix="/v1/live-calls", tags=["live-calls"])

CallId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("", operation_id="live_calls_list", responses=errors(503))
async def get_live_calls(
    _: CallsRead,
    request: Request,
    customer_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> LiveCallList:
    """List the calls in progress on every sip_core node (oldest first), optionally one
    customer's. Nodes that do not answer within two seconds are named, not waited for."""
    return await list_live_calls(
        getattr(request.app.state, "bus", None), customer_id=customer_id, limit=limit
    )


@router.delete(
    "/{call_id}",
    operation_id="live_calls_hang_up",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 503),
)
async def delete_live_call(
    principal: CallsWrite,
    request: Request,
    call_id: CallId,
    customer_id: uuid.UUID | None = None,
) -> None:
    """Hang up a call in progress: BYE to both parties once answered, else the caller gets
    503 and the carrier a CANCEL. Its CDR says ``operator_hangup``. With ``customer_id``, only
    that customer's call is ended."""
    await hang_up(
        getattr(request.app.state, "bus", None),
        call_id,
        customer_id=customer_id,
        by=principal.label,
    )
