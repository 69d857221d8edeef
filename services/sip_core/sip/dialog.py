"""SIP dialogs, sans-I/O: RFC 3261 §12 (and the dialog parts of §13).

A ``Dialog`` is the state two user agents share for a call leg: Call-ID, local and remote tags,
local and remote CSeq, the remote target and the route set. A B2BUA holds two per call (one per
leg). ``DialogTable`` finds the dialog of an incoming request or response.

Implemented:

* §12.1.1 UAS dialog creation from a request and the To tag we answer with (route set =
  Record-Route in order, remote target = Contact, remote CSeq = the request's, local CSeq
  empty); §12.1.2 UAC dialog creation from a 101-199 response with a To tag or a 2xx (route
  set = Record-Route reversed, remote target = Contact, local CSeq = the request's, remote
  CSeq empty); the ``secure`` flag (SIPS Request-URI over TLS).
* Early and confirmed dialogs: §13.2.2.4 a 2xx confirms an early dialog and recomputes its
  route set; a 300-699 to the dialog-creating INVITE ends its early dialogs (§12.3); 481 or
  408 to an in-dialog request ends the dialog (§12.2.1.2).
* §12.2.1.1 in-dialog requests (BYE, re-INVITE, UPDATE, INFO, …): To/From/Call-ID from the
  dialog, CSeq one above the last, Request-URI and Route from the remote target and route set
  — loose routing (``;lr``) and the strict-routing rewrite; Contact on target refresh requests.
  §13.2.2.4 the ACK for a 2xx (CSeq number of the INVITE, method ACK).
* §12.2.2 incoming in-dialog requests: CSeq lower than the remote CSeq → 500; the remote
  CSeq follows the request otherwise.
* Target refresh (§12.2.1.2 on a 2xx to our re-INVITE/UPDATE; §12.2.2 with RFC 6141 §3.2:
  for the UAS, when the TU accepts the request — ``refresh_target``).

Skipped: dialog usages other than INVITE (RFC 5057: SUBSCRIBE/NOTIFY/REFER dialogs work the
same way but their lifetimes are the TU's); §12.2.1.1's SIPS upgrade of the remote target;
authentication headers in in-dialog requests (the TU adds them with ``headers=``); the
§8.1.1.5 choice of an initial local CSeq (we start at 1, which the RFC allows).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import replace

from services.sip_core.sip.errors import InvalidValue, ParseError
from services.sip_core.sip.headers import Headers, NameAddr, Via, check_value
from services.sip_core.sip.message import Message, Request, Response
from services.sip_core.sip.uri import SipURI, parse_uri

__all__ = [
    "DIALOG_CREATING_METHODS",
    "TARGET_REFRESH_METHODS",
    "Dialog",
    "DialogState",
    "DialogTable",
]

# Methods whose requests refresh the remote target (RFC 3261 §12.2, RFC 3311, RFC 6665).
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
# Methods that create dialogs (RFC 3261 §12.1, RFC 6665, RFC 3515).
DIALOG_CREATING_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})

DEFAULT_MAX_FORWARDS = 70  # RFC 3261 §8.1.1.6


class DialogState(enum.Enum):
    """RFC 3261 §12: a dialog is early (after a 1xx with a tag) or confirmed (after a 2xx)."""

    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


EARLY = DialogState.EARLY
CONFIRMED = DialogState.CONFIRMED
TERMINATED = DialogState.TERMINATED

DialogId = tuple[str, str, str]


def _without_tag(address: NameAddr) -> NameAddr:
    if "tag" not in address.params:
        return address
    return address.with_params(address.params.without("tag"))


def _with_tag(address: NameAddr, tag: str) -> str:
    # Not NameAddr.with_tag: a tag received from the network may be any gen-value (§25.1),
    # and it must come back exactly as it arrived.
    if not tag:
        return str(address)
    return str(address.with_params(address.params.with_param("tag", tag)))


def _contact_target(message: Message) -> str | None:
    try:
        contacts = message.contact
    except ParseError:
        return None
    return contacts[0].uri_text if contacts else None


def _route_uris(message: Message) -> tuple[str, ...]:
    try:
        return tuple(route.uri_text for route in message.record_route)
    except ParseError:
        return ()


def _is_sips(uri_text: str) -> bool:
    return uri_text[:5].lower() == "sips:"


class Dialog:
    """The state of one dialog (RFC 3261 §12).

    Build one with ``Dialog.uac`` or ``Dialog.uas``; keep it in a ``DialogTable``. ``local_seq``
    and ``remote_seq`` are ``None`` while empty (§12.1). ``route_set`` holds URIs (as written)
    in the order Route header fields list them. ``context`` is free for the TU.
    """

    __slots__ = (
        "_from",
        "_route",
        "_to",
        "call_id",
        "context",
        "local_contact",
        "local_seq",
        "local_tag",
        "local_uri",
        "remote_seq",
        "remote_tag",
        "remote_target",
        "remote_uri",
        "route_set",
        "secure",
        "state",
    )

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: NameAddr
    remote_uri: NameAddr
    remote_target: str
    route_set: tuple[str, ...]
    local_seq: int | None
    remote_seq: int | None
    secure: bool
    state: DialogState
    local_contact: str | None
    context: object

    def __init__(
        self,
        call_id: str,
        local_tag: str,
        remote_tag: str,
        *,
        local_uri: NameAddr,
        remote_uri: NameAddr,
        remote_target: str,
        route_set: Iterable[str] = (),
        local_seq: int | None = None,
        remote_seq: int | None = None,
        secure: bool = False,
        state: DialogState = EARLY,
        local_contact: str | None = None,
    ) -> None:
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.local_uri = _without_tag(local_uri)
        self.remote_uri = _without_tag(remote_uri)
        self.remote_target = remote_target
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.secure = secure
        self.state = state
        self.local_contact = local_contact
        self.context = None
        # From and To of our requests (§12.2.1.1), written once when the first one is built:
        # many dialogs never send one (the peer hangs up).
        self._from: str | None = None
        self._to: str | None = None
        self.route_set = ()
        self._route = ""
        self._set_route_set(tuple(route_set))

    # -- creation ------------------------------------------------------------------------

    @classmethod
    def uac(
        cls,
        request: Request,
        response: Response,
        *,
        tls: bool = False,
        local_contact: str | None = None,
    ) -> Dialog:
        """The dialog our ``request`` and its 101-299 ``response`` create (§12.1.2).

        A 1xx makes an early dialog, a 2xx a confirmed one. A response without a To tag (RFC
        2543) gives an empty remote tag. ``tls``: the request went over TLS (with a SIPS
        Request-URI that makes the dialog ``secure``).
        """
        code = response.status_code
        if not 101 <= code <= 299:
            raise InvalidValue("Only a 101-299 response creates a dialog (§12.1)")
        remote_target = _contact_target(response) or request.uri
        return cls(
            request.call_id,
            request.from_.tag or "",
            response.to.tag or "",
            local_uri=request.from_,
            remote_uri=response.to,
            remote_target=remote_target,
            # §12.1.2: the Record-Route of the response, reversed.
            route_set=reversed(_route_uris(response)),
            local_seq=request.cseq.number,
            remote_seq=None,
            secure=tls and _is_sips(request.uri),
            state=CONFIRMED if code >= 200 else EARLY,
            local_contact=local_contact,
        )

    @classmethod
    def uas(
        cls,
        request: Request,
        local_tag: str,
        *,
        tls: bool = False,
        local_contact: str | None = None,
        state: DialogState = EARLY,
    ) -> Dialog:
        """The dialog we create by answering ``request`` with To tag ``local_tag`` (§12.1.1).

        Early until ``confirm()`` (call it when sending the 2xx), or pass ``state=CONFIRMED``.
        """
        if not local_tag:
            raise InvalidValue("A UAS dialog needs our To tag")
        return cls(
            request.call_id,
            local_tag,
            request.from_.tag or "",
            local_uri=request.to,
            remote_uri=request.from_,
            remote_target=_contact_target(request) or request.from_.uri_text,
            # §12.1.1: the Record-Route of the request, in order.
            route_set=_route_uris(request),
            local_seq=None,
            remote_seq=request.cseq.number,
            secure=tls and _is_sips(request.uri),
            state=state,
            local_contact=local_contact,
        )

    # -- identity and state ---------------------------------------------------------------

    @property
    def id(self) -> DialogId:
        """The dialog id: (Call-ID, local tag, remote tag) — §12."""
        return (self.call_id, self.local_tag, self.remote_tag)

    @property
    def is_early(self) -> bool:
        """Whether the dialog is early (no 2xx yet)."""
        return self.state is EARLY

    @property
    def is_confirmed(self) -> bool:
        """Whether the dialog is confirmed."""
        return self.state is CONFIRMED

    def confirm(self) -> None:
        """The 2xx was sent (UAS) or received: the dialog is confirmed (§12.1)."""
        if self.state is EARLY:
            self.state = CONFIRMED

    def terminate(self) -> None:
        """The dialog ended (BYE, a non-2xx final to an early dialog, 481/408…)."""
        self.state = TERMINATED

    def _set_route_set(self, route_set: tuple[str, ...]) -> None:
        self.route_set = route_set
        self._route = ", ".join(f"<{uri}>" for uri in route_set)

    def refresh_target(self, message: Message) -> None:
        """Take the remote target from ``message``'s Contact, if it has one (§12.2).

        Call it for a target refresh request the TU accepts (RFC 6141 §3.2: when sending its
        2xx); ``receive_response`` does it for 2xx responses to ours.
        """
        target = _contact_target(message)
        if target is not None:
            self.remote_target = target

    # -- responses to our requests (UAC side) -----------------------------------------------

    def receive_response(self, response: Response) -> None:
        """Update the dialog with a response to a request we sent in it (or that created it).

        * 101-199 to an early dialog's INVITE: new Contact → new remote target.
        * 2xx to INVITE on an early dialog: confirmed, route set recomputed (§13.2.2.4).
        * 2xx to a target refresh request: remote target from Contact (§12.2.1.2).
        * 300-699 to INVITE on an early dialog: the early dialog ends (§12.3).
        * 481 or 408 to any request: the dialog ends (§12.2.1.2).

        Never raises: a malformed header field leaves the part of the state it feeds alone.
        """
        code = response.status_code
        if self.state is TERMINATED:
            return
        if code == 481 or code == 408:
            self.state = TERMINATED
            return
        try:
            method = response.cseq.method
        except ParseError:
            return
        if code < 200:
            if self.state is EARLY and code > 100 and method == "INVITE":
                self.refresh_target(response)
            return
        if code < 300:
            if self.state is EARLY and method == "INVITE":
                self.state = CONFIRMED
                self._set_route_set(tuple(reversed(_route_uris(response))))
                self.refresh_target(response)
            elif method in TARGET_REFRESH_METHODS:
                self.refresh_target(response)
            return
        if self.state is EARLY and method == "INVITE":
            self.state = TERMINATED

    # -- requests from the peer (UAS side) ---------------------------------------------------

    def receive_request(self, request: Request) -> int | None:
        """Check an incoming in-dialog request (§12.2.2); the status to reject it with, or None.

        A CSeq lower than the remote CSeq is out of order: 500 (§12.2.2; a ``Retry-After`` is
        up to the TU). ACK and CANCEL carry the INVITE's CSeq and are not checked. Otherwise
        the remote CSeq becomes the request's.
        """
        method = request.method
        if method == "ACK" or method == "CANCEL":
            return None
        try:
            number = request.cseq.number
        except ParseError:
            return 400
        remote = self.remote_seq
        if remote is not None and number < remote:
            return 500
        self.remote_seq = number
        return None

    # -- requests to the peer (UAC side) -----------------------------------------------------

    def next_cseq(self) -> int:
        """Take the next local CSeq number (§12.2.1.1: one above the last; 1 when empty)."""
        number = 1 if self.local_seq is None else self.local_seq + 1
        self.local_seq = number
        return number

    def create_request(
        self,
        method: str,
        via: Via | str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        max_forwards: int = DEFAULT_MAX_FORWARDS,
    ) -> Request:
        """A request within the dialog (§12.2.1.1): BYE, re-INVITE, UPDATE, INFO, …

        ``via`` is our Via with a fresh branch (``new_branch()``). The CSeq is the next local
        one. Target refresh requests carry ``local_contact``. ACK for a 2xx: ``create_ack``;
        CANCEL: ``TransactionLayer.cancel`` (it belongs to the INVITE's transaction).
        """
        if method == "ACK" or method == "CANCEL":
            raise InvalidValue("ACK and CANCEL reuse the INVITE's CSeq: see create_ack/cancel")
        return self._build(method, self.next_cseq(), via, headers, body, content_type, max_forwards)

    def create_ack(
        self,
        cseq: int,
        via: Via | str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        max_forwards: int = DEFAULT_MAX_FORWARDS,
    ) -> Request:
        """The ACK for a 2xx to the INVITE with CSeq number ``cseq`` (§13.2.2.4).

        Built like any in-dialog request, but with the INVITE's CSeq number and method ACK;
        ``via`` needs a branch of its own (the ACK for a 2xx is a transaction of its own).
        """
        return self._build("ACK", cseq, via, headers, body, content_type, max_forwards)

    def _build(
        self,
        method: str,
        cseq: int,
        via: Via | str,
        extra: Iterable[tuple[str, str]],
        body: bytes,
        content_type: str | None,
        max_forwards: int,
    ) -> Request:
        from_, to = self._from, self._to
        if from_ is None or to is None:
            from_ = self._from = _with_tag(self.local_uri, self.local_tag)
            to = self._to = _with_tag(self.remote_uri, self.remote_tag)
        route_set = self.route_set
        uri = self.remote_target
        route = self._route
        if route_set and not _is_loose(route_set[0]):
            # §12.2.1.1 strict routing: the first route becomes the Request-URI (stripped of
            # what a Request-URI cannot carry); the remote target goes last in Route.
            uri = _as_request_uri(route_set[0])
            route = ", ".join([*(f"<{u}>" for u in route_set[1:]), f"<{self.remote_target}>"])
        items: list[tuple[str, str, str]] = [
            ("via", "Via", check_value(str(via))),
            ("max-forwards", "Max-Forwards", str(max_forwards)),
        ]
        if route:
            items.append(("route", "Route", route))
        items += (
            ("from", "From", from_),
            ("to", "To", to),
            ("call-id", "Call-ID", self.call_id),
            ("cseq", "CSeq", f"{cseq} {method}"),
        )
        if self.local_contact is not None and method in TARGET_REFRESH_METHODS:
            items.append(("contact", "Contact", check_value(self.local_contact)))
        if content_type is not None:
            items.append(("content-type", "Content-Type", check_value(content_type)))
        request = Request(method, uri, Headers._from_items(items), body)
        for name, value in extra:
            request.headers.add(name, value)
        return request

    def __repr__(self) -> str:
        return (
            f"<Dialog {self.state.value} call_id={self.call_id!r} "
            f"local_tag={self.local_tag!r} remote_tag={self.remote_tag!r}>"
        )


def _is_loose(uri_text: str) -> bool:
    """Whether a route set entry names a loose router (``;lr``, RFC 3261 §19.1.1)."""
    try:
        uri = parse_uri(uri_text)
    except ParseError:
        return True  # unparseable: do not rewrite the Request-URI around it
    return not isinstance(uri, SipURI) or uri.lr


def _as_request_uri(uri_text: str) -> str:
    # §12.2.1.1: "with any parameters that are not allowed in a Request-URI stripped" —
    # §19.1.1 table 1: ``method`` and the headers component.
    try:
        uri = parse_uri(uri_text)
    except ParseError:
        return uri_text
    if isinstance(uri, SipURI) and ("method" in uri.params or uri.headers):
        return str(replace(uri, params=uri.params.without("method"), headers=()))
    return uri_text


class DialogTable:
    """Dialogs by id — (Call-ID, local tag, remote tag) — with lookup of incoming messages."""

    __slots__ = ("_dialogs",)

    def __init__(self) -> None:
        self._dialogs: dict[DialogId, Dialog] = {}

    def __len__(self) -> int:
        return len(self._dialogs)

    def __iter__(self) -> Iterator[Dialog]:
        return iter(list(self._dialogs.values()))

    def __contains__(self, dialog: object) -> bool:
        return isinstance(dialog, Dialog) and self._dialogs.get(dialog.id) is dialog

    def add(self, dialog: Dialog) -> None:
        """Add ``dialog`` (replacing one with the same id)."""
        self._dialogs[dialog.id] = dialog

    def remove(self, dialog: Dialog) -> None:
        """Remove ``dialog`` if present."""
        if self._dialogs.get(dialog.id) is dialog:
            del self._dialogs[dialog.id]

    def get(self, call_id: str, local_tag: str, remote_tag: str) -> Dialog | None:
        """The dialog with this id, or ``None``."""
        return self._dialogs.get((call_id, local_tag, remote_tag))

    def match_request(self, request: Request) -> Dialog | None:
        """The dialog an incoming request belongs to (§12.2.2: our tag is in To), or None.

        A request without a To tag is outside any dialog.
        """
        try:
            local_tag = request.to.tag
            if local_tag is None:
                return None
            return self._dialogs.get((request.call_id, local_tag, request.from_.tag or ""))
        except ParseError:
            return None

    def match_response(self, response: Response) -> Dialog | None:
        """The dialog a response to our request belongs to (our tag is in From), or None."""
        try:
            return self._dialogs.get(
                (response.call_id, response.from_.tag or "", response.to.tag or "")
            )
        except ParseError:
            return None
