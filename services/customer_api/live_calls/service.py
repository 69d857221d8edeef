"""Your calls in progress, gathered from every sip_core node over NATS
(:mod:`libs.bus.calls`) with your account in each request: a node lists and hangs up only
your calls, so another account's call id is "not found"."""

from __future__ import annotations

import uuid

import structlog

from libs.bus import BusConnector, BusError
from libs.bus.calls import gather_live_calls, hang_up_live_call
from libs.errors import NotFound, ServiceUnavailable
from services.customer_api.live_calls.schemas import LiveCall, LiveCallList

_log = structlog.get_logger(__name__)

#: Seconds the API waits for the nodes' answers.
GATHER_TIMEOUT = 2.0


def _connected(connector: BusConnector | None) -> BusConnector:
    if connector is None or not connector.connected:
        raise ServiceUnavailable("The switch nodes cannot be asked now: try again shortly")
    return connector


async def live_calls(
    connector: BusConnector | None, customer_id: uuid.UUID, *, limit: int
) -> LiveCallList:
    bus = _connected(connector).bus
    try:
        gathered = await gather_live_calls(
            bus, customer_id=customer_id, limit=limit, timeout=GATHER_TIMEOUT
        )
    except BusError as exc:
        raise ServiceUnavailable(f"Live calls cannot be read now: {exc}") from None
    calls = [c for c in gathered.calls if c.customer_id == customer_id]
    return LiveCallList(
        items=[LiveCall.model_validate(c) for c in calls],
        total=gathered.total,
        complete=not gathered.unreachable,
    )


async def live_channels(connector: BusConnector | None, customer_id: uuid.UUID) -> int | None:
    """How many calls the account has in progress (``None`` while the nodes cannot be asked)."""
    if connector is None or not connector.connected:
        return None
    try:
        gathered = await gather_live_calls(
            connector.bus, customer_id=customer_id, limit=1, timeout=GATHER_TIMEOUT
        )
    except BusError:
        return None
    return None if gathered.unreachable else gathered.total


async def hang_up(
    connector: BusConnector | None, customer_id: uuid.UUID, call_id: str, *, by: str
) -> None:
    bus = _connected(connector).bus
    try:
        found, unreachable = await hang_up_live_call(
            bus, call_id, customer_id=customer_id, timeout=GATHER_TIMEOUT
        )
    except BusError as exc:
        raise ServiceUnavailable(f"The call cannot be hung up now: {exc}") from None
    if found:
        _log.info("live call hung up", call_id=call_id, customer=str(customer_id), by=by)
        return
    if unreachable:
        raise ServiceUnavailable(
            f"Call {call_id} was not found on the nodes that answered; "
            f"{len(unreachable)} node(s) did not answer: try again shortly"
        )
    raise NotFound(f"No call {call_id} in progress")
