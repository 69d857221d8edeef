"""The node's live calls on NATS: ``sip.calls.<command>.<node_id>`` request/reply.

switch_api (and later customer_api) list the calls in progress and hang one up through
:mod:`libs.bus.calls`; this module answers for one sip_core node. Every request gets its typed
reply; a malformed one is logged and dropped (the asker times out), never raised into the bus.
A hang-up ends the call as the switch (``ReleaseReason.OPERATOR_HANGUP``): BYE on both legs
after answer, 503 to the caller and CANCEL towards the carrier before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from libs.bus import Bus, BusError, Msg, Subscription
from libs.bus.calls import (
    CallHungUp,
    CallsListed,
    HangUpCall,
    ListCalls,
    LiveCall,
    calls_subject,
)
from libs.bus.cdr import ReleaseReason
from libs.bus.tasks import cancel_and_wait
from libs.node import Node
from services.sip_core.b2bua.calls import B2BUA, Call, Phase

__all__ = ["CallControl", "live_call"]

_log = structlog.get_logger(__name__)

_STATES = {Phase.ROUTING: "routing", Phase.EARLY: "early", Phase.ANSWERED: "answered"}


def live_call(call: Call, node_id: str, zone: str) -> LiveCall | None:
    """What the API shows of ``call`` (``None`` once it has ended)."""
    admission = call.admission
    state = _STATES.get(call.phase)
    if admission is None or state is None:
        return None
    target = call.target
    return LiveCall(
        call_id=call.id,
        node_id=node_id,
        zone=zone,
        customer_id=admission.customer_id,
        caller=admission.caller,
        callee=admission.callee,
        state=state,
        started_at=call.started_at,
        answered_at=call.answered_at,
        source_address=f"{call.a_peer.host}:{call.a_peer.port}",
        carrier_id=target.carrier_id if target else None,
        gateway=f"{target.peer.host}:{target.peer.port}" if target else None,
        attempt=max(call.attempt, 0),
    )


class CallControl:
    """Answers live-call requests for the calls of one B2BUA."""

    def __init__(self, b2bua: B2BUA) -> None:
        self.b2bua = b2bua
        self.node_id = b2bua.node_id
        self._subscription: Subscription | None = None

    # -- requests ------------------------------------------------------------------------------

    def list_calls(self, request: ListCalls) -> CallsListed:
        customer = request.customer_id
        calls = [
            call
            for call in self.b2bua.calls
            if call.admission is not None
            and (customer is None or call.admission.customer_id == customer)
        ]
        calls.sort(key=lambda call: call.started_at)
        listed = [
            live
            for call in calls[: request.limit]
            if (live := live_call(call, self.node_id, self.b2bua.zone)) is not None
        ]
        return CallsListed(node_id=self.node_id, calls=listed, total=len(calls))

    def hang_up(self, request: HangUpCall) -> CallHungUp:
        for call in self.b2bua.calls:
            if call.id != request.call_id:
                continue
            admission = call.admission
            if request.customer_id is not None and (
                admission is None or admission.customer_id != request.customer_id
            ):
                break  # another customer's call: as unknown as one that does not exist
            _log.info("call hung up by request", call_id=call.id)
            self.b2bua.hang_up(call, ReleaseReason.OPERATOR_HANGUP)
            return CallHungUp(node_id=self.node_id, call_id=request.call_id, found=True)
        return CallHungUp(node_id=self.node_id, call_id=request.call_id, found=False)

    async def _on_request(self, msg: Msg) -> None:
        command = msg.subject.split(".")[2]
        bus = self._bus
        if command == "list":
            reply: CallsListed | CallHungUp = self.list_calls(ListCalls.from_bytes(msg.data))
        elif command == "hangup":
            reply = self.hang_up(HangUpCall.from_bytes(msg.data))
        else:
            _log.info("unknown live-calls command", subject=msg.subject)
            return
        if msg.reply and bus is not None:
            await bus.respond(msg, reply)

    # -- life cycle ----------------------------------------------------------------------------

    _bus: Bus | None = None

    async def start(self, bus: Bus) -> None:
        self._bus = bus
        subject = calls_subject(self.node_id, "*")
        self._subscription = await bus.subscribe(subject, self._on_request)
        # Be sure the server knows the subscription before we say we are ready: ask ourselves.
        probe = calls_subject(self.node_id, "list")
        for _ in range(20):
            try:
                await bus.request(probe, ListCalls(limit=1), CallsListed, timeout=0.5)
                break
            except BusError:
                await asyncio.sleep(0.05)
        _log.info("live calls served", subject=subject)

    async def stop(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    @asynccontextmanager
    async def run(self, node: Node) -> AsyncIterator[None]:
        """Serve once NATS is reachable (the node runs calls without it meanwhile)."""

        async def start_when_connected() -> None:
            await self.start(await node.connector.wait_connected())

        task = asyncio.create_task(start_when_connected(), name="sip-call-control")
        try:
            yield
        finally:
            await cancel_and_wait(task)
            await self.stop()
