from __future__ import annotations

import uuid

import structlog

from libs.bus import BusConnector, BusError
from libs.bus.calls import gather_live_calls, hang_up_live_call
from libs.errors import NotFound, ServiceUnavailable
from services.switch_api.live_calls.schemas import LiveCall, LiveCallList

_log = structlog.get_logger(__name__)

#: Seconds the API waits for the nodes' answers.
GATHER_TIMEOUT = 2.0


def _bus(connector: BusConnector | None) -> BusConnector:
    if connector is None or not connector.connected:
        raise ServiceUnavailable("NATS is unreachable: live calls cannot be read now")
    return connector


async def list_live_calls(
    connector: BusConnector | None, *, customer_id: uuid.UUID | None, limit: int
) -> LiveCallList:
    """The calls in progress on every live sip_core node, oldest first."""
    bus = _bus(connector).bus
    try:
        gathered = await gather_live_calls(
            bus, customer_id=customer_id, limit=limit, timeout=GATHER_TIMEOUT
        )
    except BusError as exc:
        raise ServiceUnavailable(f"live calls cannot be read now: {exc}") from None
    return LiveCallList(
        items=[LiveCall.model_validate(call.model_dump()) for call in gathered.calls],
        total=gathered.total,
        unreachable_nodes=gathered.unreachable,
    )


async def hang_up(
    connector: BusConnector | None,
    call_id: str,
    *,
    customer_id: uuid.UUID | None,
    by: str,
) -> None:
    """End a call in progress, wherever it runs (404 when no node has it)."""
    bus = _bus(connector).bus
    try:
        found, unreachable = await hang_up_live_call(
            bus, call_id, customer_id=customer_id, timeout=GATHER_TIMEOUT
        )
    except BusError as exc:
        raise ServiceUnavailable(f"the call cannot be hung up now: {exc}") from None
    if found:
        _log.info("live call hung up", call_id=call_id, by=by)
        return
    if unreachable:
        raise ServiceUnavailable(
            f"call {call_id} was not found on the nodes that answered; "
            f"{len(unreachable)} node(s) did not answer"
        )
    raise NotFound(f"no call {call_id} in progress")
