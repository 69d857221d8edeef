from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from libs.bus import BusConnector
from services.customer_api.deps import CallsRead, CallsWrite
from services.customer_api.live_calls.schemas import LiveCallList
from services.customer_api.live_calls.service import hang_up, live_calls
from services.customer_api.openapi import errors

router = APIRouter(prefix="/v1/live-calls", tags=["live-calls"])


def _bus(request: Request) -> BusConnector | None:
    connector: BusConnector | None = getattr(request.app.state, "bus", None)
    return connector


@router.get("", operation_id="live_calls_list", responses=errors(503))
async def list_live_calls(
    tenant: CallsRead,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=2000, description="Calls per node at most.")] = 500,
) -> LiveCallList:
    """List your calls in progress on every switch node, oldest first."""
    return await live_calls(_bus(request), tenant.customer_id, limit=limit)


@router.delete(
    "/{call_id}",
    operation_id="live_calls_hang_up",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 503),
)
async def hang_up_live_call(
    tenant: CallsWrite,
    request: Request,
    call_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> None:
    """Hang up one of your calls in progress (both legs get a BYE; its CDR follows)."""
    await hang_up(_bus(request), tenant.customer_id, call_id, by=tenant.principal.label)
