"""Binding transports, the transaction layer and the transaction user (the B2BUA) together.

Transports hand every parsed message to :meth:`SipStack.received`; the stack stamps the top Via
(RFC 3581), feeds the sans-I/O :class:`TransactionLayer` with the loop's time and then pumps the
layer's actions: bytes to send go to the transport that owns the peer, events go to the TU.
One event-loop timer wakes the layer no later than its earliest deadline (sometimes earlier, for
nothing). Nothing raised while handling one message escapes into the transport.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import structlog
from prometheus_client import Counter

from services.sip_core.sip import (
    Action,
    CancelReceived,
    ClientTransaction,
    Peer,
    Request,
    RequestReceived,
    RequestRefused,
    Response,
    ResponseReceived,
    Send,
    ServerInviteTransaction,
    ServerTransaction,
    StrayResponseReceived,
    Transaction,
    TransactionLayer,
    TransactionTimedOut,
    TransportFailed,
    apply_received,
)

__all__ = ["PeerSender", "SipStack", "TransactionUser"]

_log = structlog.get_logger(__name__)

SIP_EVENTS = Counter("tandem_sip_stack_events_total", "Transaction-layer events", ["event"])
# Children bound once: a labels() lookup per message costs more than the increment itself.
_REQUESTS = SIP_EVENTS.labels("request")
_RESPONSES = SIP_EVENTS.labels("response")
_CANCELS = SIP_EVENTS.labels("cancel")
_TIMEOUTS = {
    timer: SIP_EVENTS.labels(f"timeout_{timer}") for timer in ("B", "F", "H", "L", "cancel")
}
_TRANSPORT_FAILED = SIP_EVENTS.labels("transport_failed")
_STRAY_RESPONSES = SIP_EVENTS.labels("stray_response")
_REFUSED = SIP_EVENTS.labels("refused_overload")
_TU_ERRORS = SIP_EVENTS.labels("tu_error")


class PeerSender(Protocol):
    def send(self, peer: Peer, data: bytes) -> bool:
        """Write ``data`` to ``peer``; ``False`` if no transport can reach it."""


class TransactionUser(Protocol):
    """What the stack tells the application (RFC 3261's transaction user)."""

    def on_request(
        self, request: Request, peer: Peer, transaction: ServerTransaction | None
    ) -> None: ...

    def on_response(self, response: Response, transaction: ClientTransaction) -> None: ...

    def on_cancel(self, request: Request, transaction: ServerInviteTransaction) -> None: ...

    def on_timeout(self, transaction: Transaction, timer: str) -> None: ...

    def on_transport_failure(self, transaction: Transaction) -> None: ...


class SipStack:
    def __init__(self, layer: TransactionLayer, sender: PeerSender | None = None) -> None:
        self.layer = layer
        self.sender = sender
        self.tu: TransactionUser | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def now(self) -> float:
        return self.loop.time()

    # -- from the transports ---------------------------------------------------------------

    def received(self, message: Request | Response, peer: Peer) -> None:
        """A parsed message arrived from ``peer``."""
        if isinstance(message, Request):
            # RFC 3261 §18.2.1 / RFC 3581 §4: record where it really came from.
            apply_received(message, peer.host, peer.port)
        self.layer.receive(message, peer, self.now())
        self.pump()

    def peer_unreachable(self, peer: Peer) -> None:
        """The transports could not reach ``peer`` (no connection, no address): the client
        transactions waiting on it fail now, so their calls fail over without waiting for
        Timer B."""
        failed = self.layer.peer_failed(peer, self.now())
        if failed:
            _log.info("peer unreachable", peer=f"{peer.host}:{peer.port}", transactions=failed)
        self.pump()

    # -- from the TU -------------------------------------------------------------------------

    def pump(self) -> None:
        """Carry out every action the layer has queued, then re-arm the timer."""
        next_action = self.layer.next_action
        dispatch = self._dispatch
        while (action := next_action()) is not None:
            try:
                dispatch(action)
            except Exception:  # a TU bug costs this event, never the stack
                _TU_ERRORS.inc()
                _log.exception("transaction user failed on an event", event=type(action).__name__)
        self._arm()

    def _dispatch(self, action: Action) -> None:
        # isinstance, most frequent first: a ``match`` with class patterns costs several times
        # more per message.
        if isinstance(action, Send):
            sender = self.sender
            sent = sender is not None and sender.send(action.peer, action.data)
            if not sent and action.transaction is not None:
                self.layer.transport_failed(action.transaction, self.now())
            return
        tu = self.tu
        if isinstance(action, RequestReceived):
            _REQUESTS.inc()
            if tu is not None:
                tu.on_request(action.request, action.peer, action.transaction)
        elif isinstance(action, ResponseReceived):
            _RESPONSES.inc()
            if tu is not None:
                tu.on_response(action.response, action.transaction)
        elif isinstance(action, CancelReceived):
            _CANCELS.inc()
            if tu is not None:
                tu.on_cancel(action.request, action.transaction)
        elif isinstance(action, TransactionTimedOut):
            counter = _TIMEOUTS.get(action.timer)
            (counter or SIP_EVENTS.labels(f"timeout_{action.timer}")).inc()
            if tu is not None:
                tu.on_timeout(action.transaction, action.timer)
        elif isinstance(action, TransportFailed):
            _TRANSPORT_FAILED.inc()
            if tu is not None:
                tu.on_transport_failure(action.transaction)
        elif isinstance(action, StrayResponseReceived):
            _STRAY_RESPONSES.inc()
        elif isinstance(action, RequestRefused):
            _REFUSED.inc()

    def _arm(self) -> None:
        # Re-armed only for an earlier deadline: the earliest one moves later all the time
        # (a provisional response stops Timer A…), and a timer that fires with nothing due
        # costs one empty handle_timer() — much less than a new loop timer on every message.
        deadline = self.layer.next_timer()
        if deadline is None:
            return
        armed = self._timer_at
        if armed is not None and armed <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        try:
            self.layer.handle_timer(self.now())
        finally:
            self.pump()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
