"""The back-to-back user agent: two independent legs per call, the topology hidden.

RFC 3261 in the roles a B2BUA plays: a UAS towards the caller (leg A) and a UAC towards the
carrier (leg B). Nothing of one leg's addressing crosses to the other: the B leg has its own
Call-ID, tags, Via and Contact, and only numbers, the body (SDP) and chosen headers are carried
over.

Implemented: new INVITEs admitted by the :class:`CallPolicy`; targets tried in order with
failover on the policy's codes, on no first reply and on ring timeout (the pending INVITE is
CANCELled, §9.1); provisional responses (180/183 with SDP) relayed; 2xx ACKed on the B leg
(§13.2.2.4) and relayed to A; CANCEL from the caller (§9.2: 487 to the INVITE, CANCEL to the
carrier, and ACK+BYE if the carrier answers anyway); BYE from either side ends both legs;
in-dialog requests (re-INVITE, UPDATE, INFO, OPTIONS…) relayed to the other leg and their
responses back (a relayed re-INVITE's 2xx is ACKed by us on the answering leg); OPTIONS out of
dialog answered; max duration enforced with BYEs to both legs; a timer-H/L timeout (our 2xx
never ACKed) ends the call; one CDR per call with every attempt; in-dialog OPTIONS pings on
both legs of answered calls every ``ping_interval`` seconds (one timer for all calls): a 408, a
481 or no answer at all ends the call (BYE to the other leg, ``peer_unreachable``); Via and
Contact carry each leg's transport (UDP, TCP, TLS) and its listener's port.

Media anchoring (issue 6): when the admission's :class:`MediaPlan` says ``relay``, the caller's
SDP is offered to an rtp_relay of the plan's zone before the INVITE leaves (bounded by the
controller's offer timeout; with no relay, a strict plan refuses the call with 503 and
``media_unavailable``, a relaxed one goes direct), every SDP crossing the call is rewritten to
the relay's ports (:mod:`services.sip_core.media.anchor`), the session is deleted when the call
ends and its statistics go into the CDR. An unreadable offer gets 488 (strict) or goes direct
(relaxed); an unreadable SDP in a re-INVITE/UPDATE gets 488 and is not relayed; an unreadable
SDP in a response is relayed as it is (a response cannot be refused). A relay's
``MediaTimedOut`` ends the call with ``rtp_timeout``; a relay that vanishes ends its calls with
``media_unavailable``.

A late offer (an INVITE without SDP, RFC 3261 §13.2.1, RFC 3264) is anchored too: the relay's
ports are taken before the INVITE leaves (the same zone, timeouts and strict/relaxed rules),
the INVITE goes without SDP, the carrier's offer in its 183/200 is rewritten towards the caller
and the caller's answer in its ACK towards the carrier. The same holds for an offer in the 2xx
to a re-INVITE without SDP, whichever leg sent it, and whatever the media mode (direct media
needs the answer passed on too): the 2xx carrying the offer is ACKed on the offerer's leg only
when the ACK with the answer arrives from the other (:class:`_AwaitedAnswer`; the offerer's 2xx
retransmissions meanwhile are absorbed). An ACK without an answer is what RFC 3261 §13.2.2.4
tells a UAC to repair and hang up: the offerer's leg is ACKed with an answer rejecting every
stream, both legs get a BYE and the CDR says ``media_negotiation_failed`` (released by the
switch) — a call with no media negotiated is a silent, billed call otherwise. A caller that
never ACKs ends the call as before (timer L), the offerer's leg ACKed the same way first.

Carrier authentication: a 401/407 to our INVITE from a target with credentials is answered once
(RFC 3261 §22.2, :mod:`services.sip_core.sip.digest_client`): the INVITE re-sent with CSeq + 1 and
``Authorization``/``Proxy-Authorization``; a second challenge (unless ``stale``) fails the
attempt over to the next carrier. A challenge that reaches the caller is answered 503.

Skipped here (later in the sip_core issue): authentication, limits and rewriting (the policy's
job), anchoring an offer inside a multipart body (SIP-I: it goes direct), session timers (RFC 4028),
sending in-dialog B-leg requests to a Contact other than the gateway, PRACK (RFC 3262).
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum

import structlog
from prometheus_client import Counter, Gauge, Histogram

from libs.bus.cdr import CallAttempt, CallEnded, ReleasedBy, ReleaseReason
from libs.bus.media import MediaTimedOut
from services.sip_core.b2bua.hooks import Outgoing, RequestHandler
from services.sip_core.b2bua.policy import Admission, CallPolicy, Rating, Refusal, Target
from services.sip_core.media import (
    MediaController,
    MediaSession,
    MediaUnavailable,
    Offer,
    leg_stats,
)
from services.sip_core.sip import (
    ClientInviteTransaction,
    ClientTransaction,
    Dialog,
    DialogState,
    DialogTable,
    ParseError,
    Peer,
    Request,
    Response,
    ServerInviteTransaction,
    ServerTransaction,
    Transaction,
    make_response,
    new_branch,
    new_tag,
    random_hex,
)
from services.sip_core.sip.digest_client import answer_challenge, credential_headers
from services.sip_core.sip.sdp import SdpError, rejecting_answer
from services.sip_core.stack import SipStack

__all__ = ["B2BUA"]

_log = structlog.get_logger(__name__)

#: Methods every node accepts (in-dialog MESSAGE, NOTIFY… are relayed to the other leg, but an
#: out-of-dialog MESSAGE is answered 405, so it is not listed). :attr:`B2BUA.allow` adds the
#: methods other parts answer out of dialog (``handlers``: REGISTER once the registrar is wired).
BASE_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "UPDATE", "INFO")
CALLS = Counter("tandem_calls_total", "Calls by outcome", ["outcome"])
# Bound once (a labels() lookup per call costs more than the increment).
_ANSWERED = CALLS.labels("answered")
_OUTCOMES = {reason: CALLS.labels(reason.value) for reason in ReleaseReason}
ACTIVE_CALLS = Gauge("tandem_active_calls", "Calls in progress")
#: New calls (INVITEs out of dialog): ``rate(tandem_new_calls_total[1m])`` is the CPS.
NEW_CALLS = Counter("tandem_new_calls_total", "New INVITEs received (admitted or refused)")
CPS = Gauge("tandem_calls_per_second", "New INVITEs in the last whole second")
PDD = Histogram(
    "tandem_pdd_seconds",
    "Post-dial delay: from the carrier INVITE to its first ringing or final reply",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13),
)

CdrSink = Callable[[CallEnded], None]

#: Challenges answered per target: the first, and one more only if it says ``stale=true``.
_MAX_AUTH_ROUNDS = 2

#: Pings due within this many seconds of a tick go out in that tick: at most a few loop timers
#: a second for all calls, however many there are.
PING_GRANULARITY = 0.25
#: A call timer that fires this early (the loop's clock resolution) counts as due.
TIMER_SLACK = 0.001
PINGS = Counter("tandem_sip_pings_total", "In-dialog OPTIONS pings by result", ["result"])
_PING_SENT = PINGS.labels("sent")
_PING_ALIVE = PINGS.labels("alive")
_PING_DEAD = PINGS.labels("dead")


class Phase(Enum):
    ROUTING = "routing"  # INVITE sent to a carrier, nothing back but 100
    EARLY = "early"  # a provisional came back
    ANSWERED = "answered"
    ENDED = "ended"


class Call:
    __slots__ = (
        "_a_txn",
        "_b_txn",
        "a_dialog",
        "a_peer",
        "a_request",
        "a_tag",
        "admission",
        "answered_at",
        "attempt",
        "attempts",
        "awaiting",
        "b_auths",
        "b_body",
        "b_call_id",
        "b_dialog",
        "b_request",
        "b_started",
        "first_reply_at",
        "id",
        "media",
        "phase",
        "refusal",
        "started_at",
        "target",
        "timer",
        "timer_at",
        "timer_due",
        "timer_fire",
    )

    def __init__(self, request: Request, txn: ServerInviteTransaction, peer: Peer) -> None:
        self.id = random_hex(16)  # 128 random bits, as uuid4().hex (122) but cheaper
        self.a_request = request
        self._a_txn = weakref.ref(txn)
        self.a_peer = peer
        self.a_tag = new_tag()
        self.a_dialog: Dialog | None = None
        self.admission: Admission | None = None
        self.b_call_id = random_hex(16)
        self.b_request: Request | None = None
        #: Challenges of the current target answered with its credentials (RFC 3261 §22.2).
        self.b_auths = 0
        #: The body sent to carriers (the caller's SDP rewritten to the relay), if not the A one.
        self.b_body: bytes | None = None
        #: The call's media session on an rtp_relay, when anchored.
        self.media: MediaSession | None = None
        #: An offer in a 2xx whose answer is awaited in an ACK (a late offer).
        self.awaiting: _AwaitedAnswer | None = None
        self._b_txn: weakref.ref[ClientInviteTransaction] | None = None
        self.b_dialog: Dialog | None = None
        self.target: Target | None = None
        self.attempt = -1
        self.attempts: list[CallAttempt] = []
        self.phase = Phase.ROUTING
        #: Why the last target was skipped by the policy (e.g. a carrier at its limit).
        self.refusal: Refusal | None = None
        self.started_at = datetime.now(UTC)
        self.b_started = 0.0
        self.first_reply_at: float | None = None
        self.answered_at: datetime | None = None
        #: The call's one loop timer (see :meth:`B2BUA._set_timer`): armed for ``timer_at``; what
        #: is due is ``timer_fire`` at ``timer_due`` (``None``: nothing).
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.timer_due = 0.0
        self.timer_fire: Callable[[Call], None] | None = None

    # A transaction points at its call (``context``) for as long as it lives, up to 64·T1
    # after the call ended; the call points back weakly, so no reference cycle leaves a finished
    # call and its messages to the cyclic garbage collector (whose pauses grow with every call
    # in progress). A transaction gone from the layer was terminated: it reads as ``None``, and
    # nothing could have been done through it anyway.

    @property
    def a_txn(self) -> ServerInviteTransaction | None:
        """The caller's INVITE server transaction, while the transaction layer holds it."""
        return self._a_txn()

    @property
    def b_txn(self) -> ClientInviteTransaction | None:
        """The INVITE client transaction of the current attempt, while it lives."""
        ref = self._b_txn
        return None if ref is None else ref()

    @b_txn.setter
    def b_txn(self, txn: ClientInviteTransaction | None) -> None:
        self._b_txn = None if txn is None else weakref.ref(txn)


class _AwaitedAnswer:
    """An offer that came in a 2xx and was relayed to leg ``side``, whose ACK must answer it.

    The offerer's 2xx (to the INVITE with CSeq ``cseq`` on ``dialog``, sent to ``peer`` by
    ``transaction``) is ACKed only then, with that answer (RFC 3261 §13.2.2.4); ``ack_cseq`` is
    the CSeq of the INVITE on leg ``side`` the awaited ACK carries; ``offer`` the offer as it
    came (for an answer rejecting it, if none comes).
    """

    __slots__ = ("ack_cseq", "cseq", "dialog", "offer", "peer", "side", "transaction")

    def __init__(
        self,
        side: str,
        ack_cseq: int,
        dialog: Dialog,
        cseq: int,
        peer: Peer,
        transaction: ClientTransaction | None,
        offer: bytes,
    ) -> None:
        self.side = side
        self.ack_cseq = ack_cseq
        self.dialog = dialog
        self.cseq = cseq
        self.peer = peer
        self.transaction = transaction
        self.offer = offer


class _Ping:
    """The context of an in-dialog OPTIONS ping on one leg of a call."""

    __slots__ = ("call", "side")

    def __init__(self, call: Call, side: str) -> None:
        self.call = call
        self.side = side


class B2BUA:
    """The transaction user of sip_core: every call's logic."""

    def __init__(
        self,
        stack: SipStack,
        policy: CallPolicy,
        *,
        local_host: str,
        local_port: int,
        node_id: str,
        zone: str,
        cdr_sink: CdrSink,
        local_ports: dict[str, int] | None = None,
        ping_interval: float = 0.0,
        media: MediaController | None = None,
    ) -> None:
        self.stack = stack
        self.policy = policy
        self.local_host = local_host
        self.local_port = local_port
        #: The port of our listener per transport (``{"TCP": 5060, "TLS": 5061}``): what Via and
        #: Contact say on a leg of that transport (RFC 3261 §18.1.1, §8.1.1.8).
        self.local_ports = {"UDP": local_port, **(local_ports or {})}
        self.node_id = node_id
        self.zone = zone
        self.cdr_sink = cdr_sink
        self.dialogs = DialogTable()
        self._legs: dict[tuple[str, str, str], tuple[Call, str]] = {}
        self.calls: set[Call] = set()
        #: Out-of-dialog requests other parts answer, by method (REGISTER: the registrar).
        self.handlers: dict[str, RequestHandler] = {}
        self._allow: tuple[tuple[str, ...], str] = ((), ", ".join(BASE_METHODS))
        # Policies with per-attempt limits (carrier, gateway) take them before each attempt.
        self._begin_attempt = getattr(policy, "begin_attempt", None)
        #: Seconds between OPTIONS pings on each leg of an answered call (0: none). Answered
        #: calls wait in one FIFO by due time (the interval is the same for all, so appending
        #: keeps it sorted) and one loop timer serves them all: cheap at 10,000 calls.
        self.ping_interval = ping_interval
        self._pings: deque[tuple[float, Call]] = deque()
        self._ping_timer: asyncio.TimerHandle | None = None
        # New calls in the current second and in the one before it (the CPS gauge).
        self._cps_second = 0
        self._cps_count = 0
        self._cps_last = 0
        CPS.set_function(self.calls_per_second)
        #: Anchored calls by call id (the relay's session id).
        self._media_calls: dict[str, Call] = {}
        #: Calls whose offer in a 2xx awaits its answer in an ACK (few: ACKs are cheap if none).
        self._awaiting: set[Call] = set()
        self.media = media
        if media is not None:
            media.on_timed_out = self._media_timed_out
            media.directory.on_lost = self._relay_lost
        stack.tu = self

    # -- helpers ---------------------------------------------------------------------------

    @property
    def contact(self) -> str:
        return f"<sip:{self.local_host}:{self.local_port}>"

    def _contact_for(self, peer: Peer) -> str:
        """Our Contact on a leg towards ``peer``: over TCP/TLS it names that transport, so the
        peer's in-dialog requests come back over it (RFC 3261 §8.1.1.8, §19.1.1)."""
        transport = peer.transport
        if transport == "UDP":
            return self.contact
        port = self.local_ports.get(transport, self.local_port)
        return f"<sip:{self.local_host}:{port};transport={transport.lower()}>"

    def _via(self, transport: str = "UDP") -> str:
        port = self.local_ports.get(transport, self.local_port)
        return f"SIP/2.0/{transport} {self.local_host}:{port};branch={new_branch()};rport"

    def _now(self) -> float:
        return self.stack.now()

    def _respond(self, txn: ServerTransaction, response: Response) -> None:
        txn.respond(response, self._now())
        self.stack.pump()

    def _answer_a(
        self,
        call: Call,
        status: int,
        *,
        body: bytes = b"",
        ctype: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        extra = [("Contact", self._contact_for(call.a_peer)), *headers]
        if 200 <= status < 300:
            extra.append(("Allow", self.allow))
        if body and ctype:
            extra.append(("Content-Type", ctype))
        txn = call.a_txn
        if txn is None:
            return
        self._respond(
            txn,
            make_response(call.a_request, status, to_tag=call.a_tag, headers=extra, body=body),
        )

    def _remember(self, dialog: Dialog, call: Call, side: str) -> None:
        self.dialogs.add(dialog)
        self._legs[dialog.id] = (call, side)

    def _leg_of(self, request: Request) -> tuple[Call, str, Dialog] | None:
        dialog = self.dialogs.match_request(request)
        if dialog is None:
            return None
        found = self._legs.get(dialog.id)
        if found is None:
            return None
        return found[0], found[1], dialog

    # -- requests ----------------------------------------------------------------------------

    def on_request(
        self, request: Request, peer: Peer, transaction: ServerTransaction | None
    ) -> None:
        method = request.method
        if method == "ACK":
            # The ACK for our 2xx: the B leg was ACKed already when it answered, unless its
            # 2xx carried an offer this ACK answers (a late offer).
            if self._awaiting:
                self._answer_in_ack(request)
            return
        if transaction is None:
            return
        try:
            max_forwards = request.max_forwards
            in_dialog = request.to.tag is not None
        except ParseError:
            self._respond(transaction, make_response(request, 400, to_tag=new_tag()))
            return
        if max_forwards is not None and max_forwards <= 0:
            self._respond(transaction, make_response(request, 483, to_tag=new_tag()))
            return
        if in_dialog:
            self._in_dialog(request, transaction)
        elif method == "INVITE":
            assert isinstance(transaction, ServerInviteTransaction)
            self._new_call(request, peer, transaction)
        elif method == "OPTIONS":
            headers = [("Allow", self.allow), ("Accept", "application/sdp")]
            self._respond(
                transaction, make_response(request, 200, to_tag=new_tag(), headers=headers)
            )
        elif method in ("BYE", "UPDATE", "INFO"):
            self._respond(transaction, make_response(request, 481, to_tag=new_tag()))
        elif (handler := self.handlers.get(method)) is not None:
            handler(request, peer, transaction)
        else:
            self._respond(
                transaction,
                make_response(request, 405, to_tag=new_tag(), headers=[("Allow", self.allow)]),
            )

    @property
    def allow(self) -> str:
        """The ``Allow`` header value: :data:`BASE_METHODS`, then the methods of ``handlers``
        (REGISTER with the registrar) — exactly the methods this node does not answer 405."""
        extra = tuple(sorted(m for m in self.handlers if m not in BASE_METHODS))
        if extra != self._allow[0]:
            self._allow = (extra, ", ".join((*BASE_METHODS, *extra)))
        return self._allow[1]

    def calls_per_second(self) -> float:
        """New calls in the last whole second (0 when none came since)."""
        second = int(self._now())
        if second == self._cps_second:
            return float(self._cps_last)
        return float(self._cps_count) if second == self._cps_second + 1 else 0.0

    def _count_new_call(self) -> None:
        NEW_CALLS.inc()
        second = int(self._now())
        if second != self._cps_second:
            self._cps_last = self._cps_count if second == self._cps_second + 1 else 0
            self._cps_second = second
            self._cps_count = 0
        self._cps_count += 1

    def _new_call(self, request: Request, peer: Peer, txn: ServerInviteTransaction) -> None:
        self._count_new_call()
        call = Call(request, txn, peer)
        txn.context = call
        try:
            decision = self.policy.admit(request, peer)
        except Exception:  # a policy bug refuses this call, never more
            _log.exception("call policy failed")
            decision = Refusal(500, ReleaseReason.NO_ROUTE)
        if isinstance(decision, Refusal):
            self._answer_a(call, decision.status, headers=decision.headers)
            self._finish(call, decision.reason, ReleasedBy.SWITCH, decision.status, admitted=False)
            return
        call.admission = decision
        self.calls.add(call)
        ACTIVE_CALLS.inc()
        if decision.media.mode == "relay":
            self._anchor(call, decision)
        else:
            self._first_attempt(call)

    def _first_attempt(self, call: Call) -> None:
        """Send the INVITE to the first target, or refuse the call when none can take it."""
        if not self._next_attempt(call):  # no target, or every one refused by its limits
            refusal = call.refusal or Refusal(503, ReleaseReason.NO_ROUTE)
            self._answer_a(call, refusal.status, headers=refusal.headers)
            self._finish(call, refusal.reason, ReleasedBy.SWITCH, refusal.status)

    def _next_attempt(self, call: Call) -> bool:
        """Send the INVITE to the next target; ``False`` when none is left."""
        admission = call.admission
        assert admission is not None
        call.attempt += 1
        while True:
            if call.attempt >= len(admission.targets):
                return False
            target = admission.targets[call.attempt]
            if self._begin_attempt is None:
                break
            call.refusal = self._begin_attempt(admission, target)
            if call.refusal is None:
                break
            call.attempt += 1
        call.b_auths = 0
        a = call.a_request
        max_forwards = (a.max_forwards or 70) - 1
        headers = [
            ("Via", self._via(target.peer.transport)),
            ("Max-Forwards", str(max_forwards)),
            ("From", f"<sip:{admission.caller}@{self.local_host}>;tag={new_tag()}"),
            ("To", f"<{target.uri}>"),
            ("Call-ID", f"{call.b_call_id}-{call.attempt}"),
            ("CSeq", "1 INVITE"),
            ("Contact", self._contact_for(target.peer)),
            ("Allow", self.allow),
        ]
        ctype = a.content_type
        if a.body and ctype:
            headers.append(("Content-Type", ctype))
        body = a.body if call.b_body is None else call.b_body
        request = Request("INVITE", target.uri, headers, body)
        if call.media is not None:
            call.media.b_host = target.peer.host
        call.target = target
        call.b_request = request
        call.b_started = self._now()
        call.first_reply_at = None
        txn = self.stack.layer.send_request(request, target.peer, call.b_started)
        assert isinstance(txn, ClientInviteTransaction)
        txn.context = call
        call.b_txn = txn
        self._set_timer(call, target.first_reply_timeout, self._no_reply)
        self.stack.pump()
        return True

    def _in_dialog(self, request: Request, txn: ServerTransaction) -> None:
        found = self._leg_of(request)
        if found is None:
            self._respond(txn, make_response(request, 481))
            return
        call, side, dialog = found
        rejection = dialog.receive_request(request)
        if rejection is not None:
            self._respond(txn, make_response(request, rejection))
            return
        if request.method == "BYE":
            self._respond(txn, make_response(request, 200))
            by = ReleasedBy.CALLER if side == "a" else ReleasedBy.CALLEE
            self._bye_other(call, side)
            self._finish(call, ReleaseReason.NORMAL, by, 200)
            return
        # Relay any other in-dialog request to the other leg, its answer back to this one.
        other = call.b_dialog if side == "a" else call.a_dialog
        if other is None or call.phase is not Phase.ANSWERED:
            self._respond(txn, make_response(request, 491 if request.method == "INVITE" else 481))
            return
        if call.awaiting is not None and request.method in ("INVITE", "UPDATE"):
            # An offer is outstanding (its answer is due in an ACK): RFC 3261 §14.2, RFC 3311.
            self._respond(txn, make_response(request, 491))
            return
        ctype = request.content_type
        body = request.body
        if body and call.media is not None and _is_sdp(ctype):
            try:
                body = call.media.from_a(body) if side == "a" else call.media.from_b(body)
            except SdpError as exc:
                _log.info("unreadable SDP in an in-dialog request", call_id=call.id, error=str(exc))
                self._respond(txn, make_response(request, 488))
                return
        to = self._peer_of(call, side == "a")
        relayed = other.create_request(
            request.method,
            self._via(to.transport),
            body=body,
            content_type=ctype if body else None,
            headers=[("Contact", self._contact_for(to))]
            if request.method in ("INVITE", "UPDATE")
            else (),
        )
        client = self.stack.layer.send_request(relayed, to, self._now())
        client.context = (call, txn, other, side)
        self.stack.pump()

    def _peer_of(self, call: Call, b_side: bool) -> Peer:
        if b_side:
            assert call.target is not None
            return call.target.peer
        return call.a_peer

    # -- responses ---------------------------------------------------------------------------

    def on_response(self, response: Response, transaction: ClientTransaction) -> None:
        context = transaction.context
        if isinstance(context, _Ping):
            status = response.status_code
            if status in (408, 481):  # RFC 3261 §12.2.1.2: the dialog is gone
                self._ping_failed(context, f"{status} to OPTIONS")
            elif status >= 200:
                _PING_ALIVE.inc()
            return
        if isinstance(context, Outgoing):
            context.on_response(response, transaction)
            return
        if isinstance(context, Call):
            if transaction is context.b_txn:
                self._b_invite_response(context, response)
            return
        if isinstance(context, tuple):  # a relayed in-dialog request
            call, server_txn, dialog, side = context
            status = response.status_code
            if status < 200 and status == 100:
                return
            if transaction.request.method == "INVITE" and 200 <= status < 300:
                awaited = call.awaiting
                if awaited is not None and awaited.transaction is transaction:
                    return  # a retransmission of the 2xx whose answer is awaited
                if not transaction.request.body and response.body:
                    # A re-INVITE without SDP: the offer is in this 2xx, the answer will be in
                    # the requester's ACK; the ACK to this leg waits for it.
                    self._await_answer(
                        call,
                        _AwaitedAnswer(
                            side,
                            server_txn.request.cseq.number,
                            dialog,
                            transaction.request.cseq.number,
                            transaction.peer,
                            transaction,
                            response.body,
                        ),
                    )
                else:
                    ack = dialog.create_ack(
                        transaction.request.cseq.number, self._via(transaction.peer.transport)
                    )
                    self.stack.layer.send_ack(ack, transaction.peer, transaction)  # type: ignore[arg-type]
            ctype = response.content_type
            contact = self._contact_for(server_txn.peer)
            headers = [("Contact", contact)] if 200 <= status < 300 else []
            # The answer comes from the other leg than the request's.
            body = self._media_sdp(call, "b" if side == "a" else "a", response.body, ctype)
            if body and ctype:
                headers.append(("Content-Type", ctype))
            self._respond(
                server_txn,
                make_response(server_txn.request, status, headers=headers, body=body),
            )

    def _b_invite_response(self, call: Call, response: Response) -> None:
        status = response.status_code
        now = self._now()
        target = call.target
        assert target is not None
        assert call.b_request is not None
        if call.phase is Phase.ENDED:
            if 200 <= status < 300:  # answered after the caller gave up: ACK, then BYE
                contact = self._contact_for(target.peer)
                dialog = Dialog.uac(call.b_request, response, local_contact=contact)
                if not call.b_request.body and response.body:  # an offer: reject it (§13.2.2.4)
                    cseq = call.b_request.cseq.number
                    call.awaiting = _AwaitedAnswer(
                        "a", 0, dialog, cseq, target.peer, call.b_txn, response.body
                    )
                    self._reject_offer(call)
                else:
                    self._ack_b(call, dialog, response)
                bye = dialog.create_request("BYE", self._via(target.peer.transport))
                self.stack.layer.send_request(bye, target.peer, now)
                self.stack.pump()
            return
        if status == 100:
            if call.first_reply_at is None:
                call.first_reply_at = now
                pdd = target.post_dial_delay
                if pdd is not None and pdd < target.ring_timeout:
                    remaining = max(0.0, pdd - (now - call.b_started))
                    self._set_timer(call, remaining, self._post_dial_delay)
                else:
                    self._set_timer(call, target.ring_timeout, self._ring_timeout)
            return
        if status < 200:
            if call.phase is Phase.ROUTING:
                PDD.observe(now - call.b_started)
                call.phase = Phase.EARLY
                self._set_timer(call, target.ring_timeout, self._ring_timeout)
            call.first_reply_at = call.first_reply_at or now
            ctype = response.content_type
            body = self._media_sdp(call, "b", response.body, ctype)
            self._answer_a(call, status, body=body, ctype=ctype)
            return
        if status in (401, 407) and target.credentials is not None:
            if self._authenticate_b(call, response):
                return
            # Refused with our credentials (or a challenge we cannot answer): the next carrier.
            self._record_attempt(call, response)
            self._failed_attempt(call, status, response.reason, failover=True)
            return
        if status < 300 and call.phase is Phase.ANSWERED:
            return  # a 2xx retransmission while its ACK waits for the caller's answer
        self._record_attempt(call, response)
        if status < 300:
            self._cancel_timer(call)
            contact = self._contact_for(target.peer)
            dialog = Dialog.uac(call.b_request, response, local_contact=contact)
            call.b_dialog = dialog
            self._remember(dialog, call, "b")
            if call.b_request.body or not response.body:
                self._ack_b(call, dialog, response)
            else:  # a late offer: the carrier's offer is here, the caller's answer in its ACK
                self._await_answer(
                    call,
                    _AwaitedAnswer(
                        "a",
                        call.a_request.cseq.number,
                        dialog,
                        call.b_request.cseq.number,
                        target.peer,
                        call.b_txn,
                        response.body,
                    ),
                )
            ctype = response.content_type
            body = self._media_sdp(call, "b", response.body, ctype)
            self._answer_a(call, status, body=body, ctype=ctype)
            a_contact = self._contact_for(call.a_peer)
            a_dialog = Dialog.uas(call.a_request, call.a_tag, local_contact=a_contact)
            a_dialog.confirm()
            call.a_dialog = a_dialog
            self._remember(a_dialog, call, "a")
            call.phase = Phase.ANSWERED
            call.answered_at = datetime.now(UTC)
            if call.first_reply_at is None:
                PDD.observe(now - call.b_started)
            admission = call.admission
            if admission is not None and admission.max_duration:
                self._set_timer(call, admission.max_duration, self._max_duration)
            self._schedule_pings(call)
            return
        self._failed_attempt(call, status, response.reason)

    def _authenticate_b(self, call: Call, response: Response) -> bool:
        """Answer the carrier's 401/407 with the target's credentials: the same INVITE again
        (same Call-ID, From tag, body) with CSeq + 1, a new branch and ``Authorization`` /
        ``Proxy-Authorization`` (RFC 3261 §22.2; the transaction layer ACKed the challenge).

        Once per target; a second challenge only when it says our nonce was ``stale`` (RFC 7616
        §3.3: right credentials, new nonce). ``False``: not answered (a failed attempt).
        """
        target, request = call.target, call.b_request
        assert target is not None
        assert request is not None
        credentials = target.credentials
        if credentials is None or call.b_auths >= _MAX_AUTH_ROUNDS or call.phase is Phase.ENDED:
            return False
        answer = answer_challenge(response, credentials, method="INVITE", uri=request.uri)
        if answer is None or (call.b_auths and not answer.stale):
            return False
        retry = request.copy()
        headers = retry.headers
        for name in credential_headers():
            headers.remove(name)
        headers.set("Via", self._via(target.peer.transport))
        headers.set("CSeq", f"{request.cseq.number + 1} INVITE")
        for name, value in answer.headers:
            headers.add(name, value)
        call.b_auths += 1
        call.b_request = retry
        call.first_reply_at = None
        txn = self.stack.layer.send_request(retry, target.peer, self._now())
        assert isinstance(txn, ClientInviteTransaction)
        txn.context = call
        call.b_txn = txn
        self._set_timer(call, target.first_reply_timeout, self._no_reply)
        self.stack.pump()
        return True

    def _ack_b(self, call: Call, dialog: Dialog, response: Response) -> None:
        assert call.b_request is not None
        assert call.target is not None
        ack = dialog.create_ack(call.b_request.cseq.number, self._via(call.target.peer.transport))
        self.stack.layer.send_ack(ack, call.target.peer, call.b_txn)
        self.stack.pump()

    def _failed_attempt(
        self, call: Call, status: int | None, reason: str, *, failover: bool = False
    ) -> None:
        target = call.target
        assert target is not None
        self._cancel_timer(call)
        failover = failover or status is None or status in target.failover_codes
        if failover and self._next_attempt(call):
            return
        final = status if status is not None else 408
        if final in (401, 407):
            # The carrier challenged us, not the caller: relaying it (without the challenge,
            # which is ours to answer) would be malformed and ask the caller for credentials.
            final = 503
        release = ReleaseReason.TIMEOUT if status is None else ReleaseReason.REJECTED
        self._answer_a(call, final if final >= 300 else 500)
        self._finish(call, release, ReleasedBy.CALLEE if status else ReleasedBy.SWITCH, final)

    def _record_attempt(self, call: Call, response: Response | None, reason: str = "") -> None:
        target, started = call.target, call.b_started
        assert target is not None
        now = self._now()
        ended = datetime.now(UTC)
        call.attempts.append(
            CallAttempt(
                carrier_id=target.carrier_id or uuid.UUID(int=0),
                gateway=f"{target.peer.host}:{target.peer.port}",
                started_at=datetime.fromtimestamp(ended.timestamp() - (now - started), UTC),
                pdd_ms=None
                if call.first_reply_at is None
                else int((call.first_reply_at - started) * 1000),
                answered_at=ended if response is not None and response.status_code < 300 else None,
                ended_at=ended,
                sip_code=response.status_code if response is not None else None,
                reason=response.reason if response is not None else reason,
                buy_card_id=target.buy_card_id,
                buy_prefix=target.buy_prefix,
                buy_rate=target.buy_rate,
                number_sent=target.uri,
            )
        )

    # -- timers ------------------------------------------------------------------------------

    def _set_timer(self, call: Call, delay: float, fire: Callable[[Call], None]) -> None:
        """Run ``fire(call)`` in ``delay`` seconds, instead of whatever the call had due.

        A call's deadlines mostly move later (no reply → ring timeout → max duration), so the
        loop timer already armed is kept when it fires no later than the new deadline: it
        re-arms itself then for what remains (:meth:`_on_call_timer`). One or two loop timers a
        call instead of one per deadline (each a libuv handle created and closed)."""
        due = self._now() + delay
        call.timer_due = due
        call.timer_fire = fire
        handle = call.timer
        if handle is not None:
            if call.timer_at <= due:
                return
            handle.cancel()
        call.timer_at = due
        call.timer = self.stack.loop.call_at(due, self._on_call_timer, call)

    def _on_call_timer(self, call: Call) -> None:
        call.timer = None
        fire = call.timer_fire
        if fire is None:
            return  # cancelled since it was armed
        due = call.timer_due
        if due > self._now() + TIMER_SLACK:  # moved later since it was armed
            call.timer_at = due
            call.timer = self.stack.loop.call_at(due, self._on_call_timer, call)
            return
        call.timer_fire = None
        try:
            fire(call)
        except Exception:
            _log.exception("call timer failed", call_id=call.id)

    @staticmethod
    def _cancel_timer(call: Call) -> None:
        """Nothing due any more. The loop timer stays armed (a later :meth:`_set_timer` may
        reuse it; if not, it fires for nothing): :meth:`_drop_timer` when the call ends."""
        call.timer_fire = None

    @staticmethod
    def _drop_timer(call: Call) -> None:
        """Cancel the loop timer too: an ended call is not kept alive by it."""
        call.timer_fire = None
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None

    def _no_reply(self, call: Call) -> None:
        if call.phase is Phase.ROUTING and call.first_reply_at is None:
            self._give_up_attempt(call, "no reply")

    def _post_dial_delay(self, call: Call) -> None:
        if call.phase is Phase.ROUTING:
            self._give_up_attempt(call, "post-dial delay")

    def _ring_timeout(self, call: Call) -> None:
        if call.phase in (Phase.ROUTING, Phase.EARLY):
            self._give_up_attempt(call, "ring timeout")

    def _give_up_attempt(self, call: Call, reason: str) -> None:
        if call.b_txn is not None:
            self.stack.layer.cancel(call.b_txn, self._now())
            self.stack.pump()
        self._record_attempt(call, None, reason)
        call.b_txn = None  # its late answers are stray now
        self._failed_attempt(call, None, reason)

    def _max_duration(self, call: Call) -> None:
        if call.phase is Phase.ANSWERED:
            self._bye_other(call, "a")
            self._bye_other(call, "b")
            self._finish(call, ReleaseReason.MAX_DURATION, ReleasedBy.SWITCH, 200)

    # -- in-dialog OPTIONS pings -----------------------------------------------------------

    def _schedule_pings(self, call: Call) -> None:
        if self.ping_interval <= 0:
            return
        due = self._now() + self.ping_interval
        self._pings.append((due, call))
        if self._ping_timer is None:
            self._ping_timer = self.stack.loop.call_at(due, self._ping_tick)

    def _ping_tick(self) -> None:
        self._ping_timer = None
        pings = self._pings
        now = self._now()
        horizon = now + min(PING_GRANULARITY, self.ping_interval / 2)
        try:
            # Each call at most once per tick (those re-queued now are due an interval later).
            for _ in range(len(pings)):
                if pings[0][0] > horizon:
                    break
                _, call = pings.popleft()
                if call.phase is not Phase.ANSWERED:
                    continue  # ended since: forget it
                self._ping(call, "a")
                self._ping(call, "b")
                pings.append((now + self.ping_interval, call))
        except Exception:
            _log.exception("OPTIONS pings failed")
        finally:
            self.stack.pump()  # every ping of this tick in one go
            if pings:
                self._ping_timer = self.stack.loop.call_at(pings[0][0], self._ping_tick)

    def _ping(self, call: Call, side: str) -> None:
        dialog = call.a_dialog if side == "a" else call.b_dialog
        if dialog is None or dialog.state is DialogState.TERMINATED:
            return
        to = self._peer_of(call, side == "b")
        options = dialog.create_request("OPTIONS", self._via(to.transport))
        txn = self.stack.layer.send_request(options, to, self._now())
        txn.context = _Ping(call, side)
        _PING_SENT.inc()

    def _ping_failed(self, ping: _Ping, why: str) -> None:
        """A leg did not answer its ping, or no longer knows the dialog: end the call, with a
        BYE to the other leg only (the dead one would not answer it)."""
        _PING_DEAD.inc()
        call = ping.call
        if call.phase is not Phase.ANSWERED:
            return
        _log.info("call leg unreachable", call_id=call.id, leg=ping.side, why=why)
        self._bye_other(call, ping.side)
        self._finish(call, ReleaseReason.PEER_UNREACHABLE, ReleasedBy.SWITCH, 200)

    # -- cancellation, timeouts, teardown -------------------------------------------------

    def on_cancel(self, request: Request, transaction: ServerInviteTransaction) -> None:
        call = transaction.context
        if not isinstance(call, Call) or call.phase in (Phase.ANSWERED, Phase.ENDED):
            return
        self._cancel_timer(call)
        if call.b_txn is not None:
            self.stack.layer.cancel(call.b_txn, self._now())
        self._answer_a(call, 487)
        self._finish(call, ReleaseReason.CANCELLED, ReleasedBy.CALLER, 487)

    def on_timeout(self, transaction: Transaction, timer: str) -> None:
        context = transaction.context
        if isinstance(context, _Ping):
            self._ping_failed(context, f"no answer to OPTIONS (timer {timer})")
            return
        if isinstance(context, Outgoing):
            if isinstance(transaction, ClientTransaction):
                context.on_failure(transaction)
            return
        if not isinstance(context, Call):
            return
        call = context
        if timer == "B" and transaction is call.b_txn and call.phase is not Phase.ENDED:
            self._record_attempt(call, None, "timeout")
            self._failed_attempt(call, None, "timeout")
        elif timer in ("H", "L") and call.phase is Phase.ANSWERED:
            # Our 2xx to the caller was never ACKed: the caller is gone (§13.3.1.4).
            self._bye_other(call, "a")
            self._bye_other(call, "b")
            self._finish(call, ReleaseReason.PEER_UNREACHABLE, ReleasedBy.SWITCH, 200)

    def on_transport_failure(self, transaction: Transaction) -> None:
        context = transaction.context
        if (
            isinstance(context, Call)
            and transaction is context.b_txn
            and context.phase is not Phase.ENDED
        ):
            # The carrier cannot be reached (refused, unresolvable, TLS failed): next one.
            self._cancel_timer(context)
            self._record_attempt(context, None, "unreachable")
            self._failed_attempt(context, None, "unreachable")
            return
        self.on_timeout(transaction, "B")

    def hang_up(self, call: Call, reason: ReleaseReason) -> None:
        """End ``call`` from the switch (operator action, RTP timeout, shutdown…)."""
        if call.phase is Phase.ANSWERED:
            self._bye_other(call, "a")
            self._bye_other(call, "b")
            self._finish(call, reason, ReleasedBy.SWITCH, 200)
        elif call.phase is not Phase.ENDED:
            if call.b_txn is not None:
                self.stack.layer.cancel(call.b_txn, self._now())
            self._answer_a(call, 503)
            self._finish(call, reason, ReleasedBy.SWITCH, 503)

    def _bye_other(self, call: Call, side: str) -> None:
        """Send a BYE on the leg that is *not* ``side``."""
        dialog = call.b_dialog if side == "a" else call.a_dialog
        if dialog is None or dialog.state is DialogState.TERMINATED:
            return
        if call.awaiting is not None and call.awaiting.dialog is dialog:
            self._reject_offer(call)  # its 2xx is ACKed before the BYE (RFC 3261 §15)
        to = self._peer_of(call, side == "a")
        bye = dialog.create_request("BYE", self._via(to.transport))
        dialog.terminate()
        self.stack.layer.send_request(bye, to, self._now())
        self.stack.pump()

    def _finish(
        self,
        call: Call,
        reason: ReleaseReason,
        released_by: ReleasedBy,
        status: int,
        *,
        admitted: bool = True,
    ) -> None:
        if call.phase is Phase.ENDED:
            return
        answered = call.phase is Phase.ANSWERED
        call.phase = Phase.ENDED
        self._drop_timer(call)
        for dialog in (call.a_dialog, call.b_dialog):
            if dialog is not None:
                self.dialogs.remove(dialog)
                self._legs.pop(dialog.id, None)
        if admitted and call in self.calls:
            self.calls.discard(call)
            ACTIVE_CALLS.dec()
            if call.admission is not None:
                try:
                    self.policy.release(call.admission)
                except Exception:
                    _log.exception("call policy failed to release a call")
        (_ANSWERED if answered else _OUTCOMES[reason]).inc()
        media, call.media = call.media, None
        if media is not None:
            self._media_calls.pop(call.id, None)
        if call.awaiting is not None:
            call.awaiting = None
            self._awaiting.discard(call)
        self._emit_cdr(call, reason, released_by, status, media)
        # The call object lives on as its transactions' context for up to 64·T1: keep what a
        # late answer from the carrier needs (target, B request), not the rest.
        call.a_dialog = call.b_dialog = None
        call.admission = None
        call.attempts = []

    def _emit_cdr(
        self,
        call: Call,
        reason: ReleaseReason,
        released_by: ReleasedBy,
        status: int,
        media: MediaSession | None = None,
    ) -> None:
        ended = datetime.now(UTC)
        a = call.a_request
        admission = call.admission
        try:
            caller = getattr(a.from_.uri, "user", None) or ""
            callee = getattr(a.request_uri, "user", None) or ""
        except ParseError:
            caller = callee = ""
        duration = int((ended - call.answered_at).total_seconds() * 1000) if call.answered_at else 0
        rating = admission.rating if admission else Rating()
        cdr = CallEnded(
            call_id=call.id,
            sip_call_id=a.call_id,
            node_id=self.node_id,
            zone=self.zone,
            source_address=f"{call.a_peer.host}:{call.a_peer.port}",
            customer_id=admission.customer_id if admission else None,
            auth_method=admission.auth_method if admission else None,
            ipauth_id=admission.ipauth_id if admission else None,
            sip_user_id=admission.sip_user_id if admission else None,
            route_id=rating.route_id,
            sell_card_id=rating.sell_card_id,
            sell_prefix=rating.sell_prefix,
            destination=rating.destination,
            sell_rate=rating.sell_rate,
            connection_fee=rating.connection_fee,
            initial_increment=rating.initial_increment,
            subsequent_increment=rating.subsequent_increment,
            currency=rating.currency,
            caller_received=caller,
            callee_received=callee,
            caller_sent=admission.caller if admission else "",
            callee_sent=admission.callee if admission else "",
            started_at=call.started_at,
            answered_at=call.answered_at,
            ended_at=ended,
            duration_ms=duration,
            sip_code=status,
            release_reason=reason,
            released_by=released_by,
            attempts=call.attempts,
        )
        if media is not None and self.media is not None:
            # The relay's final statistics go into the CDR: delete first, off the call path.
            self.media.spawn(self._emit_with_media(cdr, media))
            return
        self._sink(cdr)

    def _sink(self, cdr: CallEnded) -> None:
        try:
            self.cdr_sink(cdr)
        except Exception:
            _log.exception("CDR sink failed", call_id=cdr.call_id)

    async def _emit_with_media(self, cdr: CallEnded, media: MediaSession) -> None:
        try:
            stats = await media.close()
            if stats is not None:
                cdr = cdr.model_copy(
                    update={"media_caller": leg_stats(stats.a), "media_callee": leg_stats(stats.b)}
                )
        finally:
            self._sink(cdr)

    # -- media anchoring -----------------------------------------------------------------------

    def _anchor(self, call: Call, admission: Admission) -> None:
        """Offer the caller's SDP to a relay, then send the INVITE (see the module docstring)."""
        plan = admission.media
        a = call.a_request
        if not a.body:  # a late offer: ports now, the SDP later (see the module docstring)
            if self.media is not None:
                late = MediaController.late_offer()
                self.media.spawn(self._open_media(call, late, plan.zone or self.zone, plan.strict))
            elif plan.strict:  # relay media wanted, no media plane here
                self._answer_a(call, 503)
                self._finish(call, ReleaseReason.MEDIA_UNAVAILABLE, ReleasedBy.SWITCH, 503)
            else:
                self._first_attempt(call)
            return
        if not _is_sdp(a.content_type):
            self._first_attempt(call)  # not an SDP body (multipart…): not anchored
            return
        try:
            offer = MediaController.read_offer(a.body, call.a_peer.host)
        except SdpError as exc:
            _log.info("unreadable SDP offer", call_id=call.id, error=str(exc))
            if plan.strict:
                self._answer_a(call, 488)
                self._finish(call, ReleaseReason.MEDIA_UNAVAILABLE, ReleasedBy.SWITCH, 488)
            else:
                self._first_attempt(call)
            return
        if offer is None or self.media is None:
            if offer is not None and plan.strict:  # relay media wanted, no media plane here
                self._answer_a(call, 503)
                self._finish(call, ReleaseReason.MEDIA_UNAVAILABLE, ReleasedBy.SWITCH, 503)
            else:
                self._first_attempt(call)  # no audio stream to anchor, or relaxed
            return
        self.media.spawn(self._open_media(call, offer, plan.zone or self.zone, plan.strict))

    async def _open_media(self, call: Call, offer: Offer, zone: str, strict: bool) -> None:
        assert self.media is not None
        try:
            session = await self.media.open(call.id, offer, zone, a_host=call.a_peer.host)
        except MediaUnavailable:
            session = None
        try:
            if call.phase is Phase.ENDED:  # the caller gave up meanwhile
                if session is not None:
                    self.media.discard(session)
                return
            if session is None:
                if strict:
                    self._answer_a(call, 503)
                    self._finish(call, ReleaseReason.MEDIA_UNAVAILABLE, ReleasedBy.SWITCH, 503)
                else:
                    self._first_attempt(call)
                return
            call.media = session
            self._media_calls[call.id] = call
            if offer.body:  # a late offer has none: the INVITE goes without SDP
                call.b_body = session.towards_b(offer.body)
            self._first_attempt(call)
        except Exception:
            _log.exception("media anchoring failed", call_id=call.id)
            self.hang_up(call, ReleaseReason.MEDIA_UNAVAILABLE)

    def _media_sdp(self, call: Call, side: str, body: bytes, ctype: str | None) -> bytes:
        """SDP from leg ``side`` rewritten for the other leg; unreadable: as it came."""
        media = call.media
        if not body or media is None or not _is_sdp(ctype):
            return body
        try:
            return media.from_a(body) if side == "a" else media.from_b(body)
        except SdpError as exc:
            _log.warning("unreadable SDP relayed as it came", call_id=call.id, error=str(exc))
            return body

    def _await_answer(self, call: Call, awaited: _AwaitedAnswer) -> None:
        """Hold the ACK of the 2xx that carried an offer until the answer comes (an ACK)."""
        call.awaiting = awaited
        self._awaiting.add(call)

    def _answer_in_ack(self, request: Request) -> None:
        """An ACK while some offer awaits its answer: if it is that answer, pass it on."""
        found = self._leg_of(request)
        if found is None:
            return
        call, side, _ = found
        awaited = call.awaiting
        try:
            cseq = request.cseq.number
        except ParseError:
            return
        if awaited is None or awaited.side != side or cseq != awaited.ack_cseq:
            return  # another ACK (an early offer's, or for an older 2xx)
        if not request.body:
            # RFC 3261 §13.2.2.4: the offerer gets a valid answer in its ACK (one rejecting
            # its offer: :meth:`_bye_other` sends it), then both legs a BYE.
            _log.info("ACK without the answer to an offer", call_id=call.id, leg=side)
            self._bye_other(call, "a")
            self._bye_other(call, "b")
            self._finish(call, ReleaseReason.MEDIA_NEGOTIATION_FAILED, ReleasedBy.SWITCH, 200)
            return
        call.awaiting = None
        self._awaiting.discard(call)
        ctype = request.content_type
        body = self._media_sdp(call, side, request.body, ctype)
        self._send_awaited_ack(awaited, body, ctype)

    def _reject_offer(self, call: Call) -> None:
        """ACK the awaited offer with an answer rejecting its streams (the call is ending)."""
        awaited, call.awaiting = call.awaiting, None
        self._awaiting.discard(call)
        if awaited is None:
            return
        try:
            body = rejecting_answer(awaited.offer, self.local_host)
        except SdpError:
            body = b""  # an offer we cannot read: the ACK goes without an answer
        self._send_awaited_ack(awaited, body, "application/sdp" if body else None)

    def _send_awaited_ack(
        self, awaited: _AwaitedAnswer, body: bytes, content_type: str | None
    ) -> None:
        ack = awaited.dialog.create_ack(
            awaited.cseq,
            self._via(awaited.peer.transport),
            body=body,
            content_type=content_type if body else None,
        )
        transaction = awaited.transaction
        self.stack.layer.send_ack(
            ack,
            awaited.peer,
            transaction if isinstance(transaction, ClientInviteTransaction) else None,
        )
        self.stack.pump()

    def _media_timed_out(self, event: MediaTimedOut) -> None:
        call = self._media_calls.get(event.call_id)
        if call is None or call.media is None or call.media.relay != event.node_id:
            return
        call.media.timed_out(event)
        _log.info("media timed out", call_id=call.id, reason=event.reason, leg=event.leg)
        reason = (
            ReleaseReason.RTP_TIMEOUT
            if event.reason == "media_timeout"
            else ReleaseReason.MEDIA_UNAVAILABLE
        )
        self.hang_up(call, reason)

    def _relay_lost(self, node_id: str) -> None:
        for call in [c for c in self._media_calls.values() if c.media is not None]:
            if call.media is not None and call.media.relay == node_id:
                call.media.lost()
                self.hang_up(call, ReleaseReason.MEDIA_UNAVAILABLE)


def _is_sdp(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";", 1)[0].strip().lower() == (
        "application/sdp"
    )
