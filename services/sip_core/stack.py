"""Binding transports, the transaction layer and the transaction user (the B2BUA) together.

Transports hand every parsed message to :meth:`SipStack.received`; the stack stamps the top Via
(RFC 3581), feeds the sans-I/O :class:`TransactionLayer` with the loop's time and then pumps the
layer's actions: bytes to send go to the transport that owns the peer, events go to the TU.
One event-loop timer follows the layer's earliest deadline. Nothing raised while handling one
message escapes into the transport.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import structlog
from prometheus_client import Counter

from services.sip_core.sip import (
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

    # -- from the TU -------------------------------------------------------------------------

    def pump(self) -> None:
        """Carry out every action the layer has queued, then re-arm the timer."""
        layer = self.layer
        while (action := layer.next_action()) is not None:
            try:
                self._dispatch(action)
            except Exception:  # a TU bug costs this event, never the stack
                SIP_EVENTS.labels("tu_error").inc()
                _log.exception("transaction user failed on an event", event=type(action).__name__)
        self._arm()

    def _dispatch(self, action: object) -> None:
        tu = self.tu
        match action:
            case Send(data, peer, transaction):
                sent = self.sender is not None and self.sender.send(peer, data)
                if not sent and transaction is not None:
                    self.layer.transport_failed(transaction, self.now())
            case RequestReceived(request, peer, transaction):
                SIP_EVENTS.labels("request").inc()
                if tu is not None:
                    tu.on_request(request, peer, transaction)
            case ResponseReceived(response, transaction):
                SIP_EVENTS.labels("response").inc()
                if tu is not None:
                    tu.on_response(response, transaction)
            case CancelReceived(request, _peer, transaction):
                SIP_EVENTS.labels("cancel").inc()
                if tu is not None:
                    tu.on_cancel(request, transaction)
            case TransactionTimedOut(transaction, timer):
                SIP_EVENTS.labels(f"timeout_{timer}").inc()
                if tu is not None:
                    tu.on_timeout(transaction, timer)
            case TransportFailed(transaction):
                SIP_EVENTS.labels("transport_failed").inc()
                if tu is not None:
                    tu.on_transport_failure(transaction)
            case StrayResponseReceived():
                SIP_EVENTS.labels("stray_response").inc()
            case RequestRefused():
                SIP_EVENTS.labels("refused_overload").inc()

    def _arm(self) -> None:
        deadline = self.layer.next_timer()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
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
