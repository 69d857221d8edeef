"""SIP transactions, sans-I/O: RFC 3261 §17 with the RFC 6026 corrections.

Messages, timer firings and transport failures go in; actions come out. Nothing here owns a
socket, a clock or a task (the aioquic / aioice shape)::

    layer = TransactionLayer()
    layer.receive(message, Peer("UDP", host, port), now)   # every parsed message
    layer.handle_timer(now)                                  # when now >= layer.next_timer()
    while (action := layer.next_action()) is not None:
        match action:
            case Send(data, peer):        ...   # write data to peer (a reliable peer is the
                                                # connection the request came on, §18.2.2)
            case RequestReceived():       ...   # a new request (or an ACK for a 2xx) for the TU
            case ResponseReceived():      ...   # a response for one of our client transactions
            case CancelReceived():        ...   # the INVITE was CANCELled: answer it 487
            case TransactionTimedOut():   ...   # Timer B/F: fail over; H/L: no ACK came
            case TransportFailed():       ...   # the transport reported a send failure
            case StrayResponseReceived(): ...   # matched nothing: count it (RFC 6026 §8.9)
            case RequestRefused():        ...   # 503 sent: too many live transactions

``now`` is seconds on a monotonic clock (the event loop's ``loop.time()``).

Implemented:

* §17.1.1 INVITE client transaction: Calling (Timer A retransmissions over UDP, Timer B
  timeout), Proceeding, Completed (the ACK for a 300-699 built per §17.1.1.3, re-sent for each
  retransmitted final response, Timer D), with RFC 6026 §8.4: a 2xx moves it to Accepted, where
  2xx retransmissions (and 2xx from other forks) still reach the TU until Timer M.
* §17.1.2 non-INVITE client transaction: Trying, Proceeding (Timer E capped at T2, then T2 in
  Proceeding), Completed (Timer K), Timer F timeout.
* §17.2.1 INVITE server transaction: Proceeding (an optional immediate 100 Trying, re-sending
  the last provisional to a retransmitted INVITE), Completed (Timer G over UDP, Timer H),
  Confirmed (Timer I), and RFC 6026 §8.7 Accepted (Timer L; INVITE retransmissions absorbed;
  later 2xx from the TU sent; the ACK for the 2xx passed to the TU).
* §17.2.2 non-INVITE server transaction: Trying (retransmissions absorbed), Proceeding,
  Completed (Timer J).
* §17.1.3 response matching (top Via branch + CSeq method); §17.2.3 request matching (branch,
  sent-by, method, ACK matching its INVITE) with the RFC 2543 fallback for requests without a
  magic-cookie branch (Request-URI, tags, Call-ID, CSeq, top Via).
* §17.1.4 / §17.2.4 transport errors (``TransactionLayer.transport_failed``; ``peer_failed``
  for every transaction towards a peer that cannot be reached).
* §9.1 CANCEL construction (held back until a provisional arrives; the INVITE transaction ends
  64·T1 after it if no final response comes) and §9.2 CANCEL matching: the layer answers the
  CANCEL itself (200, or 481 when nothing matches) and tells the TU, which answers the INVITE.
* §8.1.1.7 branch ids (``z9hG4bK`` + 80 random bits), §19.3 tags (48 random bits).
* §18.2.2 where responses go: the connection the request came on for reliable transports; over
  UDP the ``received`` address at the ``rport`` (RFC 3581 §4) or sent-by port.
* §13.3.1.4 2xx retransmission, a UAS core duty the layer does for the TU (``retransmit_2xx``):
  in Accepted, over UDP, the 2xx is re-sent at T1, 2·T1 … T2 until its ACK arrives; a 2xx never
  ACKed within 64·T1 is reported (``TransactionTimedOut(timer="L")``) so the TU sends a BYE.
* §13.2.2.4 on the UAC side: ``send_ack(..., transaction=)`` remembers the ACK for a 2xx and
  re-sends it for each retransmission of that 2xx instead of bothering the TU again.

Skipped:

* Stateful-proxy behaviour: Timer C, forwarding of 2xx (RFC 6026 §8.5-§8.6), §16.
* §8.2.2.2 merged-request detection (482) and §8.2.2 checks other than transaction matching:
  UAS core decisions left to the TU.
* §18.2.2 ``maddr``: responses are never sent to a Via ``maddr`` (a forged one would make the
  switch reflect traffic at a third party); multicast SIP is not supported.
* §18.4 / RFC 3263 retrying another address after a transport error: the TU picks destinations.
* RFC 2543 matching compares the Request-URI and top Via as strings, not per §19.1.4.

Bounds: at most ``max_transactions`` live transactions. A new request beyond that (not a
retransmission, not an ACK, not a CANCEL for a live INVITE) gets a stateless ``503 Service
Unavailable`` with ``Retry-After`` and a ``RequestRefused`` action; no state is kept for it.
Client transactions are never refused (refusing the TU's own BYE would leak calls), but count
toward the limit.

Every input from the network is either matched, absorbed, reported (stray) or ignored as its
state machine says: ``receive`` and ``handle_timer`` raise nothing. Misusing the TU API
(``send_request`` of a request without a magic-cookie branch, a duplicate branch…) raises
``TransactionError``.
"""

from __future__ import annotations

import enum
import os
from collections import deque
from dataclasses import dataclass
from heapq import heapify, heappop, heappush
from itertools import count
from typing import Literal, NamedTuple

from services.sip_core.sip.errors import ParseError, SIPError
from services.sip_core.sip.headers import Headers, Via
from services.sip_core.sip.message import Request, Response, make_response
from services.sip_core.sip.timers import DEFAULT_TIMERS, Timers

__all__ = [
    "MAGIC_COOKIE",
    "Action",
    "CancelReceived",
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ClientTransaction",
    "Peer",
    "RequestReceived",
    "RequestRefused",
    "ResponseReceived",
    "Send",
    "ServerInviteTransaction",
    "ServerNonInviteTransaction",
    "ServerTransaction",
    "State",
    "StrayResponseReceived",
    "Transaction",
    "TransactionError",
    "TransactionLayer",
    "TransactionTimedOut",
    "TransportFailed",
    "new_branch",
    "new_tag",
    "random_hex",
]

MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7
_INF = float("inf")


class _RandomPool:
    """Bytes from the kernel's CSPRNG (``os.urandom``), fetched 4 KiB at a time and each handed
    out once: as unpredictable as one ``os.urandom`` call per value, without one ``getrandom``
    system call per branch and tag (about ten per call). Emptied in a forked child, so a parent
    and its child never share bytes."""

    __slots__ = ("_buffer", "_position")

    SIZE = 4096

    def __init__(self) -> None:
        self._buffer = b""
        self._position = 0

    def hex(self, nbytes: int) -> str:
        """``nbytes`` fresh random bytes as ``2 * nbytes`` lower-case hex digits."""
        start = self._position
        end = start + nbytes
        if end > len(self._buffer):
            self._buffer = os.urandom(max(self.SIZE, nbytes))
            start, end = 0, nbytes
        self._position = end
        return self._buffer[start:end].hex()

    def reset(self) -> None:
        self._buffer = b""
        self._position = 0


_random = _RandomPool()
os.register_at_fork(after_in_child=_random.reset)


def random_hex(nbytes: int) -> str:
    """``nbytes`` fresh bytes from the kernel's CSPRNG as hex (identifiers nobody may guess:
    Call-IDs, call ids); cheaper than ``secrets.token_hex`` or ``uuid.uuid4().hex``."""
    return _random.hex(nbytes)


def new_branch() -> str:
    """A fresh RFC 3261 branch: the magic cookie and 80 random bits (§8.1.1.7).

    Random, not a counter: a branch seen on the wire must not let anyone guess the next one
    (a guessed branch lets an off-path attacker CANCEL or answer our requests).
    """
    return MAGIC_COOKIE + _random.hex(10)


def new_tag() -> str:
    """A fresh From/To tag with 48 random bits (§19.3 asks for at least 32)."""
    return _random.hex(6)


class TransactionError(SIPError, ValueError):
    """The TU asked for something the transaction layer cannot do (a programming error)."""


class Peer(NamedTuple):
    """Where a message came from or goes to: transport (upper case), host and port.

    For a connection-oriented transport the peer names the connection (the transport keeps a
    map from peers to connections); over UDP it is just the address.
    """

    transport: str
    host: str
    port: int

    @property
    def reliable(self) -> bool:
        """Whether the transport is reliable: no retransmissions, zero-length waits (§17)."""
        return self.transport != "UDP"


class State(enum.Enum):
    """Transaction states, as RFC 3261 §17 figures 5-8 and RFC 6026 §7 name them."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"  # RFC 6026
    TERMINATED = "Terminated"


CALLING = State.CALLING
TRYING = State.TRYING
PROCEEDING = State.PROCEEDING
COMPLETED = State.COMPLETED
CONFIRMED = State.CONFIRMED
ACCEPTED = State.ACCEPTED
TERMINATED = State.TERMINATED


# -- actions ------------------------------------------------------------------------------


@dataclass(slots=True)
class Send:
    """Write ``data`` to ``peer``. ``transaction`` (if any) is the one to blame on failure."""

    data: bytes
    peer: Peer
    transaction: Transaction | None = None


@dataclass(slots=True)
class RequestReceived:
    """A request for the TU: a new server transaction, or an ACK for a 2xx.

    ``transaction`` is the new server transaction; for an ACK it is the INVITE server
    transaction whose 2xx it acknowledges, or ``None`` when it matches nothing still alive
    (pass it to the dialog; an ACK is never answered).
    """

    request: Request
    peer: Peer
    transaction: ServerTransaction | None


@dataclass(slots=True)
class ResponseReceived:
    """A response for a client transaction (provisional, final, or a further 2xx)."""

    response: Response
    transaction: ClientTransaction


@dataclass(slots=True)
class CancelReceived:
    """A CANCEL matched ``transaction`` while it had no final response (§9.2).

    The layer already answered the CANCEL with 200. The TU should answer the INVITE with 487
    (using ``transaction.to_tag``, which the 200 to the CANCEL carried) and stop its work.
    """

    request: Request
    peer: Peer
    transaction: ServerInviteTransaction


TimerName = Literal["B", "F", "H", "L", "cancel"]


@dataclass(slots=True)
class TransactionTimedOut:
    """A transaction gave up (it is already terminated).

    ``timer``: ``"B"``/``"F"`` — a client transaction got no final response (§17.1.1.2,
    §17.1.2.2), fail over; ``"cancel"`` — no final response 64·T1 after our CANCEL (§9.1);
    ``"H"`` — no ACK for our non-2xx (§17.2.1); ``"L"`` — no ACK for our 2xx within 64·T1
    (§13.3.1.4: the TU should end the session with a BYE).
    """

    transaction: Transaction
    timer: TimerName


@dataclass(slots=True)
class TransportFailed:
    """The transport could not deliver for ``transaction``, which is now terminated (§17.1.4)."""

    transaction: Transaction


@dataclass(slots=True)
class StrayResponseReceived:
    """A response that matches no client transaction; it was discarded (RFC 6026 §8.9)."""

    response: Response
    peer: Peer


@dataclass(slots=True)
class RequestRefused:
    """A new request was answered statelessly with ``status_code`` (503: too many transactions)."""

    request: Request
    peer: Peer
    status_code: int


Action = (
    Send
    | RequestReceived
    | ResponseReceived
    | CancelReceived
    | TransactionTimedOut
    | TransportFailed
    | StrayResponseReceived
    | RequestRefused
)


# -- transactions -------------------------------------------------------------------------


class Transaction:
    """What the four transaction machines share: the request, the peer, state and timers.

    Each transaction has at most two running timers: a retransmission timer (A, E, G, or the
    2xx retransmission) and an end timer (B, D, F, H, I, J, K, L, M, or the CANCEL wait),
    stored as absolute deadlines; ``deadline`` is the earlier one. No closures, no handles.
    """

    __slots__ = (
        "__weakref__",
        "_deadline",
        "_interval",
        "_layer",
        "_out",
        "_retransmit_at",
        "_timeout_at",
        "context",
        "key",
        "peer",
        "reliable",
        "request",
        "state",
    )

    request: Request
    peer: Peer
    state: State
    reliable: bool
    key: tuple[str, ...]
    context: object
    """Free for the TU (its call or leg object), so it needs no dict from transactions."""

    def __init__(
        self, layer: TransactionLayer, request: Request, peer: Peer, key: tuple[str, ...]
    ) -> None:
        self._layer = layer
        self._out = layer._actions
        self.request = request
        self.peer = peer
        self.key = key
        self.reliable = peer.transport != "UDP"
        self.context = None
        self._retransmit_at = _INF
        self._timeout_at = _INF
        self._deadline = _INF
        self._interval = 0.0

    @property
    def method(self) -> str:
        """The method of the request that created the transaction."""
        return self.request.method

    @property
    def branch(self) -> str | None:
        """The top Via branch of the request that created the transaction."""
        return self.request.top_via.branch

    @property
    def deadline(self) -> float | None:
        """When this transaction's next timer fires, or ``None``."""
        return None if self._deadline == _INF else self._deadline

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.request.method} {self.state.value} {self.key[0]}>"

    # -- internals --------------------------------------------------------------------

    def _arm(self) -> None:
        retransmit_at = self._retransmit_at
        timeout_at = self._timeout_at
        deadline = retransmit_at if retransmit_at < timeout_at else timeout_at
        if deadline != self._deadline:
            self._deadline = deadline
            if deadline != _INF:
                self._layer._schedule(self, deadline)

    def _terminate(self) -> None:
        self.state = TERMINATED
        self._retransmit_at = self._timeout_at = self._deadline = _INF
        self._layer._forget(self)

    def _on_timer(self, now: float) -> None:
        raise NotImplementedError


class ClientTransaction(Transaction):
    """A client transaction: sends the request, matches responses (§17.1)."""

    __slots__ = ("_data",)

    def __init__(
        self, layer: TransactionLayer, request: Request, peer: Peer, key: tuple[str, ...]
    ) -> None:
        super().__init__(layer, request, peer, key)
        self._data = bytes(request)

    def _on_response(self, response: Response, now: float) -> None:
        raise NotImplementedError

    def _start(self, now: float) -> None:
        raise NotImplementedError


class ClientInviteTransaction(ClientTransaction):
    """RFC 3261 §17.1.1 (figure 5) with RFC 6026 §8.4 (Accepted, Timer M)."""

    __slots__ = ("_ack", "_acks_2xx", "_cancel", "_cancel_pending")

    def __init__(
        self, layer: TransactionLayer, request: Request, peer: Peer, key: tuple[str, ...]
    ) -> None:
        super().__init__(layer, request, peer, key)
        self.state = CALLING
        self._ack: bytes | None = None
        self._acks_2xx: dict[str, bytes] | None = None
        self._cancel: ClientNonInviteTransaction | None = None
        self._cancel_pending = False

    @property
    def cancel_transaction(self) -> ClientNonInviteTransaction | None:
        """The CANCEL sent for this INVITE, if any (§9.1)."""
        return self._cancel

    def _start(self, now: float) -> None:
        timers = self._layer.timers
        self._out.append(Send(self._data, self.peer, self))
        if not self.reliable:
            self._interval = timers.t1
            self._retransmit_at = now + timers.t1  # RFC 3261 §17.1.1.2 Timer A
        self._timeout_at = now + timers.b  # RFC 3261 §17.1.1.2 Timer B
        self._arm()

    def _on_timer(self, now: float) -> None:
        state = self.state
        if now >= self._timeout_at:
            self._terminate()
            if state is CALLING:
                # RFC 3261 §17.1.1.2: Timer B fired in Calling — tell the TU.
                self._out.append(TransactionTimedOut(self, "B"))
            elif state is PROCEEDING:
                # RFC 3261 §9.1: no final response 64·T1 after the CANCEL.
                self._out.append(TransactionTimedOut(self, "cancel"))
            # Completed: Timer D; Accepted: Timer M (RFC 6026 §8.4) — silently.
            return
        if now >= self._retransmit_at:
            # RFC 3261 §17.1.1.2: Timer A fired — retransmit, double the interval (no cap).
            self._out.append(Send(self._data, self.peer, self))
            self._layer.retransmitted += 1
            self._interval *= 2
            self._retransmit_at = now + self._interval
            self._arm()

    def _on_response(self, response: Response, now: float) -> None:
        code = response.status_code
        state = self.state
        out = self._out
        if state is CALLING or state is PROCEEDING:
            if code < 200:
                if state is CALLING:
                    # RFC 3261 §17.1.1.2: Proceeding stops retransmissions (and Timer B).
                    self.state = PROCEEDING
                    self._retransmit_at = self._timeout_at = _INF
                    self._arm()
                    out.append(ResponseReceived(response, self))
                    if self._cancel_pending:
                        # RFC 3261 §9.1: the CANCEL waited for a provisional response.
                        self._layer._send_cancel(self, now)
                    return
                out.append(ResponseReceived(response, self))
                return
            self._cancel_pending = False
            if code < 300:
                # RFC 6026 §8.4: 2xx → Accepted, Timer M; the TU sends the ACK.
                self.state = ACCEPTED
                self._retransmit_at = _INF
                self._timeout_at = now + self._layer.timers.m
                self._arm()
                out.append(ResponseReceived(response, self))
                return
            # RFC 3261 §17.1.1.2: 300-699 → Completed, ACK it (§17.1.1.3), Timer D.
            self.state = COMPLETED
            self._ack = ack = _build_ack(self.request, response)
            out.append(Send(ack, self.peer, self))
            out.append(ResponseReceived(response, self))
            if self.reliable:
                self._terminate()  # Timer D = 0 for reliable transports
                return
            self._retransmit_at = _INF
            self._timeout_at = now + self._layer.timers.d  # RFC 3261 §17.1.1.2 Timer D
            self._arm()
            return
        if state is COMPLETED:
            if code >= 300 and self._ack is not None:
                # RFC 3261 §17.1.1.2: a retransmitted final response is ACKed again, not
                # passed up.
                out.append(Send(self._ack, self.peer, self))
                self._layer.absorbed += 1
            return
        if state is ACCEPTED and 200 <= code < 300:
            acks = self._acks_2xx
            ack_2xx = None if acks is None else acks.get(response.to.tag or "")
            if ack_2xx is not None:
                # RFC 3261 §13.2.2.4: a 2xx retransmission gets the same ACK again.
                out.append(Send(ack_2xx, self.peer, self))
                self._layer.absorbed += 1
            else:
                # RFC 6026 §8.4: 2xx in Accepted go to the TU (new forks, or no ACK yet).
                out.append(ResponseReceived(response, self))
        # Anything else (1xx after a final, non-2xx in Accepted…) is ignored.


class ClientNonInviteTransaction(ClientTransaction):
    """RFC 3261 §17.1.2 (figure 6)."""

    __slots__ = ()

    def __init__(
        self, layer: TransactionLayer, request: Request, peer: Peer, key: tuple[str, ...]
    ) -> None:
        super().__init__(layer, request, peer, key)
        self.state = TRYING

    def _start(self, now: float) -> None:
        timers = self._layer.timers
        self._out.append(Send(self._data, self.peer, self))
        if not self.reliable:
            self._interval = timers.t1
            self._retransmit_at = now + timers.t1  # RFC 3261 §17.1.2.2 Timer E
        self._timeout_at = now + timers.f  # RFC 3261 §17.1.2.2 Timer F
        self._arm()

    def _on_timer(self, now: float) -> None:
        state = self.state
        if now >= self._timeout_at:
            self._terminate()
            if state is not COMPLETED:
                # RFC 3261 §17.1.2.2: Timer F fired in Trying or Proceeding — tell the TU.
                self._out.append(TransactionTimedOut(self, "F"))
            # Completed: Timer K — silently.
            return
        if now >= self._retransmit_at:
            # RFC 3261 §17.1.2.2: Timer E — doubling up to T2 in Trying, T2 in Proceeding.
            self._out.append(Send(self._data, self.peer, self))
            layer = self._layer
            layer.retransmitted += 1
            t2 = layer.timers.t2
            interval = self._interval * 2
            self._interval = t2 if state is PROCEEDING or interval > t2 else interval
            self._retransmit_at = now + self._interval
            self._arm()

    def _on_response(self, response: Response, now: float) -> None:
        state = self.state
        if state is TRYING or state is PROCEEDING:
            if response.status_code < 200:
                self.state = PROCEEDING  # RFC 3261 §17.1.2.2
                self._out.append(ResponseReceived(response, self))
                return
            # RFC 3261 §17.1.2.2: final → Completed, Timer K (0 when reliable).
            self.state = COMPLETED
            self._out.append(ResponseReceived(response, self))
            if self.reliable:
                self._terminate()
                return
            self._retransmit_at = _INF
            self._timeout_at = now + self._layer.timers.k  # RFC 3261 §17.1.2.2 Timer K
            self._arm()
            return
        # Completed: retransmitted responses are absorbed (§17.1.2.2).
        self._layer.absorbed += 1


class ServerTransaction(Transaction):
    """A server transaction: absorbs retransmitted requests, sends the TU's responses (§17.2)."""

    __slots__ = ("_final", "_last", "_provisional", "_reply_to", "_tag")

    def __init__(
        self,
        layer: TransactionLayer,
        request: Request,
        peer: Peer,
        key: tuple[str, ...],
        reply_to: Peer,
    ) -> None:
        super().__init__(layer, request, peer, key)
        self._reply_to = reply_to
        self._provisional: bytes | None = None
        self._final: bytes | None = None
        self._last: Response | None = None
        self._tag: str | None = None

    @property
    def reply_to(self) -> Peer:
        """Where responses go (§18.2.2)."""
        return self._reply_to

    @property
    def last_response(self) -> Response | None:
        """The last response sent (provisional or final)."""
        return self._last

    @property
    def to_tag(self) -> str | None:
        """The To tag our responses carry (from the last response, or chosen for a CANCEL)."""
        last = self._last
        if last is not None:
            tag = last.to.tag
            if tag is not None:
                return tag
        return self._tag

    def respond(self, response: Response, now: float) -> bool:
        """Send ``response`` through this transaction; ``False`` if its state forbids it.

        Build it with ``make_response(transaction.request, ...)``. A response the state
        machine does not allow (a second final, anything after Terminated) is not sent.
        """
        raise NotImplementedError

    def _on_retransmission(self, now: float) -> None:
        raise NotImplementedError


class ServerInviteTransaction(ServerTransaction):
    """RFC 3261 §17.2.1 (figure 7) with RFC 6026 §8.7 (Accepted, Timer L)."""

    __slots__ = ("_ack_key", "_acked", "cancelled")

    cancelled: bool
    """Whether a CANCEL matched this transaction before its final response (§9.2)."""

    def __init__(
        self,
        layer: TransactionLayer,
        request: Request,
        peer: Peer,
        key: tuple[str, ...],
        reply_to: Peer,
    ) -> None:
        super().__init__(layer, request, peer, key, reply_to)
        self.state = PROCEEDING
        self._acked = False
        self._ack_key: tuple[str, str, int] | None = None
        self.cancelled = False

    @property
    def acked(self) -> bool:
        """Whether the ACK for our final response arrived."""
        return self._acked

    def trying(self) -> bool:
        """Send ``100 Trying`` unless a response was already sent (§17.2.1, §8.2.6.1)."""
        if self.state is not PROCEEDING or self._last is not None:
            return False
        return self.respond(make_response(self.request, 100), 0.0)

    def respond(self, response: Response, now: float) -> bool:
        code = response.status_code
        state = self.state
        if state is PROCEEDING:
            data = bytes(response)
            self._out.append(Send(data, self._reply_to, self))
            self._last = response
            if code < 200:
                self._provisional = data
                return True
            self._final = data
            timers = self._layer.timers
            if code < 300:
                # RFC 6026 §8.7: 2xx → Accepted, Timer L.
                self.state = ACCEPTED
                self._timeout_at = now + timers.l
                self._layer._index_accepted(self)
                if not self.reliable and self._layer.retransmit_2xx:
                    # RFC 3261 §13.3.1.4: the 2xx is retransmitted at T1, 2·T1 … T2.
                    self._interval = timers.t1
                    self._retransmit_at = now + timers.t1
            else:
                # RFC 3261 §17.2.1: 300-699 → Completed, Timer G (UDP), Timer H.
                self.state = COMPLETED
                if not self.reliable:
                    self._interval = timers.t1
                    self._retransmit_at = now + timers.t1  # Timer G
                self._timeout_at = now + timers.h  # Timer H
            self._arm()
            return True
        if state is ACCEPTED and 200 <= code < 300:
            # RFC 6026 §8.7: 2xx passed by the TU in Accepted are sent (and are the ones
            # retransmitted from now on).
            data = bytes(response)
            self._final = data
            self._last = response
            self._out.append(Send(data, self._reply_to, self))
            return True
        return False

    def _on_retransmission(self, now: float) -> None:
        layer = self._layer
        layer.absorbed += 1
        state = self.state
        if state is PROCEEDING:
            # RFC 3261 §17.2.1: re-send the last provisional response, if any.
            if self._provisional is not None:
                self._out.append(Send(self._provisional, self._reply_to, self))
        elif state is COMPLETED and self._final is not None:
            # RFC 3261 §17.2.1: re-send the final response.
            self._out.append(Send(self._final, self._reply_to, self))
        # Accepted (RFC 6026 §8.7) and Confirmed: absorbed.

    def _on_ack(self, request: Request, peer: Peer, now: float) -> None:
        state = self.state
        if state is COMPLETED:
            # RFC 3261 §17.2.1: ACK → Confirmed, stop Timer G, start Timer I.
            self._acked = True
            self.state = CONFIRMED
            if self.reliable:
                self._terminate()  # Timer I = 0 for reliable transports
                return
            self._retransmit_at = _INF
            self._timeout_at = now + self._layer.timers.i  # Timer I
            self._arm()
        elif state is ACCEPTED:
            self._on_2xx_ack(request, peer)
        else:
            # Confirmed: ACK retransmissions absorbed; Proceeding: an ACK before any final
            # response acknowledges nothing.
            self._layer.absorbed += 1

    def _on_2xx_ack(self, request: Request, peer: Peer) -> None:
        if self._acked:
            self._layer.absorbed += 1
            return
        # RFC 6026 §8.7: the ACK for the 2xx goes to the TU; RFC 3261 §13.3.1.4: it stops
        # the 2xx retransmissions.
        self._acked = True
        if self._retransmit_at != _INF:
            self._retransmit_at = _INF
            self._arm()
        self._out.append(RequestReceived(request, peer, self))

    def _on_timer(self, now: float) -> None:
        state = self.state
        if now >= self._timeout_at:
            self._terminate()
            if state is COMPLETED:
                # RFC 3261 §17.2.1: Timer H — the ACK never came; tell the TU.
                self._out.append(TransactionTimedOut(self, "H"))
            elif state is ACCEPTED and not self._acked:
                # RFC 3261 §13.3.1.4: 2xx never ACKed in 64·T1 — the TU should BYE.
                self._out.append(TransactionTimedOut(self, "L"))
            # Confirmed: Timer I — silently.
            return
        if now >= self._retransmit_at and self._final is not None:
            # RFC 3261 §17.2.1 Timer G (Completed) or §13.3.1.4 (Accepted): re-send the
            # final response, doubling the interval up to T2.
            self._out.append(Send(self._final, self._reply_to, self))
            layer = self._layer
            layer.retransmitted += 1
            interval = self._interval * 2
            t2 = layer.timers.t2
            self._interval = t2 if interval > t2 else interval
            self._retransmit_at = now + self._interval
            self._arm()


class ServerNonInviteTransaction(ServerTransaction):
    """RFC 3261 §17.2.2 (figure 8)."""

    __slots__ = ()

    def __init__(
        self,
        layer: TransactionLayer,
        request: Request,
        peer: Peer,
        key: tuple[str, ...],
        reply_to: Peer,
    ) -> None:
        super().__init__(layer, request, peer, key, reply_to)
        self.state = TRYING

    def respond(self, response: Response, now: float) -> bool:
        state = self.state
        if state is not TRYING and state is not PROCEEDING:
            return False
        data = bytes(response)
        self._out.append(Send(data, self._reply_to, self))
        self._last = response
        if response.status_code < 200:
            self.state = PROCEEDING  # RFC 3261 §17.2.2
            self._provisional = data
            return True
        # RFC 3261 §17.2.2: final → Completed, Timer J (0 when reliable).
        self.state = COMPLETED
        self._final = data
        if self.reliable:
            self._terminate()
            return True
        self._timeout_at = now + self._layer.timers.j  # Timer J
        self._arm()
        return True

    def _on_retransmission(self, now: float) -> None:
        self._layer.absorbed += 1
        state = self.state
        # RFC 3261 §17.2.2: Trying absorbs; Proceeding and Completed re-send the last response.
        if state is PROCEEDING and self._provisional is not None:
            self._out.append(Send(self._provisional, self._reply_to, self))
        elif state is COMPLETED and self._final is not None:
            self._out.append(Send(self._final, self._reply_to, self))

    def _on_timer(self, now: float) -> None:
        if now >= self._timeout_at:
            self._terminate()  # RFC 3261 §17.2.2 Timer J


# -- building ACK and CANCEL ------------------------------------------------------------------


def _build_ack(request: Request, response: Response) -> bytes:
    """The ACK for a 300-699 response to ``request`` (RFC 3261 §17.1.1.3).

    Same Request-URI, Call-ID, From, CSeq number and Route as the INVITE, the To of the
    response (with its tag), one Via: the INVITE's top Via (same branch).
    """
    items: list[tuple[str, str, str]] = [("via", "Via", str(request.top_via))]
    to = response.headers.get("to") or ""
    for item in request.headers._items:
        key = item[0]
        if key == "call-id" or key == "from" or key == "route" or key == "max-forwards":
            items.append(item)
        elif key == "to":
            items.append(("to", "To", to))
        elif key == "cseq":
            items.append(("cseq", "CSeq", f"{request.cseq.number} ACK"))
    return bytes(Request._parsed("ACK", request.uri, Headers._from_items(items)))


def _build_cancel(request: Request) -> Request:
    """The CANCEL for ``request`` (RFC 3261 §9.1).

    Same Request-URI, Call-ID, To, From (tags included), CSeq number and Route; one Via: the
    request's top Via (so it shares the branch but is a transaction of its own).
    """
    items: list[tuple[str, str, str]] = [("via", "Via", str(request.top_via))]
    for item in request.headers._items:
        key = item[0]
        if key in ("call-id", "from", "to", "route", "max-forwards"):
            items.append(item)
        elif key == "cseq":
            items.append(("cseq", "CSeq", f"{request.cseq.number} CANCEL"))
    return Request._parsed("CANCEL", request.uri, Headers._from_items(items))


def _reply_peer(via: Via, peer: Peer) -> Peer:
    """Where responses to a request from ``peer`` with top ``via`` go (§18.2.2, RFC 3581 §4)."""
    if peer.transport != "UDP":
        return peer  # the connection the request came on
    params = via.params
    host = params.get("received") or via.host
    if host.startswith("["):
        host = host[1:-1]
    port = via.rport or via.port or 5060
    if host == peer.host and port == peer.port:
        return peer
    return Peer("UDP", host, port)


# -- the layer ----------------------------------------------------------------------------


class TransactionLayer:
    """All live transactions of one SIP element, their matching, timers and output.

    Inputs: ``receive`` (every parsed message), ``handle_timer``, ``transport_failed``, and the
    TU's ``send_request`` / ``cancel`` / ``send_ack`` / ``send_stateless`` and
    ``ServerTransaction.respond``. Output: ``next_action()`` until it returns ``None``.
    Timing: ``next_timer()`` is the earliest deadline; call ``handle_timer(now)`` then.

    Options: ``send_100_trying`` sends 100 Trying for every new INVITE at once (§17.2.1: a
    B2BUA cannot promise a response within 200 ms); ``retransmit_2xx`` makes the layer
    retransmit 2xx responses to INVITE until ACKed (§13.3.1.4); ``max_transactions`` and
    ``retry_after`` bound the live transactions (see the module docstring).
    """

    __slots__ = (
        "_accepted",
        "_actions",
        "_clients",
        "_count",
        "_heap",
        "_seq",
        "_servers",
        "absorbed",
        "dropped",
        "max_transactions",
        "refused",
        "retransmit_2xx",
        "retransmitted",
        "retry_after",
        "send_100_trying",
        "timers",
    )

    def __init__(
        self,
        timers: Timers = DEFAULT_TIMERS,
        *,
        max_transactions: int = 100_000,
        retry_after: int = 5,
        send_100_trying: bool = True,
        retransmit_2xx: bool = True,
    ) -> None:
        if max_transactions < 1:
            raise TransactionError("max_transactions must be positive")
        self.timers = timers
        self.max_transactions = max_transactions
        self.retry_after = retry_after
        self.send_100_trying = send_100_trying
        self.retransmit_2xx = retransmit_2xx
        self._actions: deque[Action] = deque()
        self._clients: dict[tuple[str, ...], ClientTransaction] = {}
        self._servers: dict[tuple[str, ...], ServerTransaction] = {}
        self._accepted: dict[tuple[str, str, int], ServerInviteTransaction] = {}
        self._heap: list[tuple[float, int, Transaction]] = []
        self._seq = count()
        self._count = 0
        # Counters for metrics: retransmitted requests/responses absorbed (answered from
        # state, not passed up); messages retransmitted on a timer (A, E, G, 2xx); new
        # requests refused with 503 (``max_transactions``); unreadable messages dropped.
        self.absorbed = 0
        self.retransmitted = 0
        self.refused = 0
        self.dropped = 0

    @property
    def live_transactions(self) -> int:
        """How many transactions are alive (what ``max_transactions`` bounds)."""
        return self._count

    # -- output -------------------------------------------------------------------------

    def next_action(self) -> Action | None:
        """The next thing to do (send bytes, tell the TU), or ``None`` when there is none."""
        actions = self._actions
        return actions.popleft() if actions else None

    # -- timers -------------------------------------------------------------------------

    def next_timer(self) -> float | None:
        """The earliest deadline of any live transaction, or ``None``."""
        heap = self._heap
        while heap:
            deadline, _, transaction = heap[0]
            if transaction._deadline == deadline:
                return deadline
            heappop(heap)  # stale: the transaction moved its deadline or ended
        return None

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, transaction = heappop(heap)
            if transaction._deadline == deadline:
                transaction._on_timer(now)

    def _schedule(self, transaction: Transaction, deadline: float) -> None:
        heap = self._heap
        heappush(heap, (deadline, next(self._seq), transaction))
        if len(heap) > 4 * self._count + 1024:
            # Lazy deletion leaves stale entries behind (a BYE answered in 10 ms leaves its
            # 32 s Timer F entry): rebuild from the live transactions now and then.
            # In place: handle_timer may be iterating over this very list.
            live = [*self._clients.values(), *self._servers.values()]
            seq = self._seq
            heap[:] = [(t._deadline, next(seq), t) for t in live if t._deadline != _INF]
            heapify(heap)

    # -- bookkeeping --------------------------------------------------------------------

    def _forget(self, transaction: Transaction) -> None:
        key = transaction.key
        if isinstance(transaction, ClientTransaction):
            if self._clients.get(key) is transaction:
                del self._clients[key]
                self._count -= 1
            return
        if self._servers.get(key) is transaction:
            del self._servers[key]
            self._count -= 1
        if isinstance(transaction, ServerInviteTransaction):
            ack_key = transaction._ack_key
            if ack_key is not None and self._accepted.get(ack_key) is transaction:
                del self._accepted[ack_key]

    def _index_accepted(self, transaction: ServerInviteTransaction) -> None:
        # The ACK for a 2xx is a new transaction (new branch, §17.1.1.3): find it by dialog
        # and CSeq instead (§13.3.1.4).
        request = transaction.request
        ack_key = (request.call_id, request.from_.tag or "", request.cseq.number)
        transaction._ack_key = ack_key
        self._accepted[ack_key] = transaction

    # -- input from the network ----------------------------------------------------------

    def receive(self, message: Request | Response, peer: Peer, now: float) -> None:
        """Match a parsed message to its transaction, or start one (§17.1.3, §17.2.3).

        Call ``apply_received`` on requests first (§18.2.1). Never raises: a message whose
        header fields cannot be read (only possible for messages not from the parser) is
        dropped.
        """
        try:
            if isinstance(message, Response):
                self._receive_response(message, peer, now)
            else:
                self._receive_request(message, peer, now)
        except ParseError:
            self.dropped += 1  # unreadable: the parser never returns such a message

    def _receive_response(self, response: Response, peer: Peer, now: float) -> None:
        # RFC 3261 §17.1.3: top Via branch and CSeq method.
        branch = response.top_via.branch
        transaction = None
        if branch is not None:
            transaction = self._clients.get((branch, response.cseq.method))
        if transaction is None:
            # RFC 6026 §8.9: a UA discards responses that match no transaction.
            self._actions.append(StrayResponseReceived(response, peer))
            return
        transaction._on_response(response, now)

    def _receive_request(self, request: Request, peer: Peer, now: float) -> None:
        via = request.top_via
        method = request.method
        match_method = "INVITE" if method == "ACK" else method
        branch = via.branch
        transaction: ServerTransaction | None
        if branch is not None and len(branch) > 7 and branch.startswith(MAGIC_COOKIE):
            # RFC 3261 §17.2.3: branch, sent-by and method (ACK matches its INVITE).
            key: tuple[str, ...] = (branch, via.sent_by.lower(), match_method)
            transaction = self._servers.get(key)
        else:
            key = _key_2543(request, via, match_method)
            transaction = self._servers.get(key)
            if transaction is not None and not _tags_match_2543(request, transaction):
                transaction = None
        if transaction is not None:
            if method == "ACK":
                if isinstance(transaction, ServerInviteTransaction):
                    transaction._on_ack(request, peer, now)
            else:
                transaction._on_retransmission(now)
            return
        if method == "ACK":
            self._receive_ack(request, peer)
            return
        if method == "CANCEL":
            self._receive_cancel(request, peer, key, now)
            return
        if self._count >= self.max_transactions:
            self._refuse(request, peer)
            return
        reply_to = _reply_peer(via, peer)
        if method == "INVITE":
            invite = ServerInviteTransaction(self, request, peer, key, reply_to)
            self._add_server(invite)
            if self.send_100_trying:
                invite.trying()
            self._actions.append(RequestReceived(request, peer, invite))
            return
        server = ServerNonInviteTransaction(self, request, peer, key, reply_to)
        self._add_server(server)
        self._actions.append(RequestReceived(request, peer, server))

    def _add_server(self, transaction: ServerTransaction) -> None:
        # A 2543 key may collide with a transaction whose To tag differed: the newer wins.
        previous = self._servers.get(transaction.key)
        if previous is None:
            self._count += 1
        self._servers[transaction.key] = transaction

    def _receive_ack(self, request: Request, peer: Peer) -> None:
        # An ACK matching no transaction: the ACK for a 2xx (RFC 3261 §17.1.1.3 gives it a
        # new branch). Find the Accepted INVITE transaction it acknowledges, if any.
        transaction = self._accepted.get(
            (request.call_id, request.from_.tag or "", request.cseq.number)
        )
        if transaction is not None and request.to.tag == transaction.to_tag:
            transaction._on_2xx_ack(request, peer)
            return
        self._actions.append(RequestReceived(request, peer, None))

    def _receive_cancel(
        self, request: Request, peer: Peer, key: tuple[str, ...], now: float
    ) -> None:
        # RFC 3261 §9.2: the CANCEL matches the INVITE by the §17.2.3 rules, method aside.
        if len(key) == 3:
            found = self._servers.get((key[0], key[1], "INVITE"))
        else:
            found = self._servers.get(("INVITE", *key[1:]))
            if found is not None and not _tags_match_2543(request, found):
                found = None
        invite = found if isinstance(found, ServerInviteTransaction) else None
        reply_to = _reply_peer(request.top_via, peer)
        if invite is None and self._count >= self.max_transactions:
            # Nothing to cancel and no room: answer 481 without keeping state.
            response = make_response(request, 481, to_tag=new_tag())
            self._actions.append(Send(bytes(response), reply_to))
            return
        cancel = ServerNonInviteTransaction(self, request, peer, key, reply_to)
        self._add_server(cancel)
        if invite is None:
            # RFC 3261 §9.2: no matching transaction — 481.
            cancel.respond(make_response(request, 481, to_tag=new_tag()), now)
            return
        # RFC 3261 §9.2: the UAS answers the CANCEL itself with 200, whatever the INVITE's
        # state, with the same To tag as its responses to the INVITE.
        tag = invite.to_tag
        if tag is None:
            tag = invite._tag = new_tag()
        cancel.respond(make_response(request, 200, to_tag=tag), now)
        if invite.state is PROCEEDING and not invite.cancelled:
            invite.cancelled = True
            self._actions.append(CancelReceived(request, peer, invite))

    def _refuse(self, request: Request, peer: Peer) -> None:
        self.refused += 1
        response = make_response(
            request, 503, to_tag=new_tag(), headers=[("Retry-After", str(self.retry_after))]
        )
        self._actions.append(Send(bytes(response), _reply_peer(request.top_via, peer)))
        self._actions.append(RequestRefused(request, peer, 503))

    def transport_failed(self, transaction: Transaction, now: float) -> None:
        """The transport could not send for ``transaction`` (§17.1.4, §17.2.4).

        The transaction ends. The TU hears of it (``TransportFailed``) unless the transaction
        already had its final response on the client side (a failed ACK changes nothing).
        """
        state = transaction.state
        if state is TERMINATED:
            return
        transaction._terminate()
        if isinstance(transaction, ClientTransaction) and (state is COMPLETED or state is ACCEPTED):
            return
        self._actions.append(TransportFailed(transaction))

    def peer_failed(self, peer: Peer, now: float) -> int:
        """``peer`` cannot be reached at all (its connection could not be opened, its name does
        not resolve): every client transaction towards it still waiting for a final response
        fails as :meth:`transport_failed` says (§17.1.4, RFC 3263 §4.3). Returns how many.

        Scans the client transactions: for a rare event (one call per failed connection
        attempt, however many requests were queued on it), not for every message.
        """
        waiting = [
            transaction
            for transaction in self._clients.values()
            if transaction.peer == peer and transaction.state in (CALLING, TRYING, PROCEEDING)
        ]
        for transaction in waiting:
            self.transport_failed(transaction, now)
        return len(waiting)

    # -- input from the TU ---------------------------------------------------------------

    def send_request(self, request: Request, peer: Peer, now: float) -> ClientTransaction:
        """Start a client transaction for ``request`` and send it to ``peer`` (§17.1).

        The request must carry its top Via with a fresh ``new_branch()`` (§8.1.1.7). ACK is
        not sent this way (``send_ack``); CANCEL usually neither (``cancel``).
        """
        method = request.method
        if method == "ACK":
            raise TransactionError("ACK creates no client transaction: use send_ack()")
        try:
            branch = request.top_via.branch
        except ParseError as err:
            raise TransactionError("The request needs a top Via") from err
        if branch is None or len(branch) <= 7 or not branch.startswith(MAGIC_COOKIE):
            raise TransactionError("The top Via needs an RFC 3261 branch (new_branch())")
        key = (branch, method)
        if key in self._clients:
            raise TransactionError("A client transaction with this branch is alive")
        transaction: ClientTransaction
        if method == "INVITE":
            transaction = ClientInviteTransaction(self, request, peer, key)
        else:
            transaction = ClientNonInviteTransaction(self, request, peer, key)
        self._clients[key] = transaction
        self._count += 1
        transaction._start(now)
        return transaction

    def cancel(
        self, transaction: ClientInviteTransaction, now: float
    ) -> ClientNonInviteTransaction | None:
        """CANCEL the INVITE of ``transaction`` (§9.1); returns the CANCEL's transaction.

        Before any provisional response the CANCEL is held back and sent when one arrives
        (``None`` is returned then); after a final response there is nothing to cancel
        (``None``). Calling it again returns the CANCEL already sent.
        """
        if not isinstance(transaction, ClientInviteTransaction):
            raise TransactionError("Only an INVITE can be cancelled")
        if transaction._cancel is not None:
            return transaction._cancel
        if transaction.state is CALLING:
            transaction._cancel_pending = True
            return None
        if transaction.state is not PROCEEDING:
            return None
        return self._send_cancel(transaction, now)

    def _send_cancel(
        self, transaction: ClientInviteTransaction, now: float
    ) -> ClientNonInviteTransaction:
        transaction._cancel_pending = False
        request = _build_cancel(transaction.request)
        key = (transaction.key[0], "CANCEL")
        cancel = ClientNonInviteTransaction(self, request, transaction.peer, key)
        transaction._cancel = cancel
        if key not in self._clients:
            self._count += 1
        self._clients[key] = cancel
        cancel._start(now)
        # RFC 3261 §9.1: without a final response 64·T1 from now, the INVITE is given up.
        transaction._timeout_at = now + 64 * self.timers.t1
        transaction._arm()
        return cancel

    def send_ack(
        self,
        ack: Request,
        peer: Peer,
        transaction: ClientInviteTransaction | None = None,
    ) -> None:
        """Send the ACK for a 2xx (§13.2.2.4); it is not a transaction of its own.

        With the INVITE's ``transaction`` (in Accepted), each retransmission of that 2xx
        (same To tag) is answered with this ACK again, without a ``ResponseReceived``.
        """
        data = bytes(ack)
        if transaction is None or transaction.state is not ACCEPTED:
            self._actions.append(Send(data, peer))
            return
        acks = transaction._acks_2xx
        if acks is None:
            acks = transaction._acks_2xx = {}
        try:
            acks[ack.to.tag or ""] = data
        except ParseError as err:
            raise TransactionError("The ACK needs a To header") from err
        self._actions.append(Send(data, peer, transaction))

    def send_stateless(self, message: Request | Response, peer: Peer) -> None:
        """Send ``message`` outside any transaction (a stateless response, an ACK…)."""
        self._actions.append(Send(bytes(message), peer))

    def respond_stateless(self, request: Request, response: Response, peer: Peer) -> None:
        """Answer ``request`` (received from ``peer``) without a transaction (§18.2.2)."""
        self._actions.append(Send(bytes(response), _reply_peer(request.top_via, peer)))

    def find_server(self, request: Request) -> ServerTransaction | None:
        """The live server transaction ``request`` belongs to (§17.2.3), or ``None``."""
        try:
            via = request.top_via
            method = "INVITE" if request.method == "ACK" else request.method
            branch = via.branch
            if branch is not None and len(branch) > 7 and branch.startswith(MAGIC_COOKIE):
                return self._servers.get((branch, via.sent_by.lower(), method))
            transaction = self._servers.get(_key_2543(request, via, method))
            if transaction is not None and _tags_match_2543(request, transaction):
                return transaction
        except ParseError:
            pass
        return None


def _key_2543(request: Request, via: Via, method: str) -> tuple[str, ...]:
    # RFC 3261 §17.2.3, for requests without a magic-cookie branch: Request-URI, From tag,
    # Call-ID, CSeq and top Via (the To tag is checked apart: an ACK's differs).
    return (
        method,
        request.call_id,
        request.from_.tag or "",
        str(request.cseq.number),
        request.uri,
        str(via),
    )


def _tags_match_2543(request: Request, transaction: ServerTransaction) -> bool:
    # RFC 3261 §17.2.3: an INVITE (or CANCEL, §9.2) has the To tag of the INVITE that made the
    # transaction; an ACK has the To tag of the response the transaction sent.
    to_tag = request.to.tag
    if request.method == "ACK":
        return to_tag is not None and to_tag == transaction.to_tag
    return to_tag == transaction.request.to.tag
