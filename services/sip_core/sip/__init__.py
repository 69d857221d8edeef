"""The SIP core's sans-I/O layer: message codec, transactions and dialogs.

No sockets, no event loop, no clock: bytes in, messages out (and back). A transport uses it so::

    try:
        message = parse_datagram(data)          # or StreamFramer on TCP/TLS
    except ParseError as err:                   # the only exceptions parsing raises
        reply = error_response(err)             # 400/505/513 built from err.partial, or None
        ...                                     # send reply if not None; count, log at debug
    else:
        if isinstance(message, Request):
            apply_received(message, source_host, source_port)   # RFC 3581 / §18.2.1

RFC sections implemented and skipped are listed in each module's docstring: ``message``
(framing, start-line, syntax check, responses), ``headers`` (names, Via, name-addr, CSeq,
credentials), ``uri`` (SIP/SIPS/tel), ``syntax`` (tokens, quoting, lists, parameters),
``errors`` (the exception tree), ``transaction`` (RFC 3261 §17 with RFC 6026: the four
transaction machines and the ``TransactionLayer`` that matches, times and bounds them),
``timers`` (T1/T2/T4 and timers A-M), ``dialog`` (§12: ``Dialog`` and ``DialogTable``).
The transaction layer is sans-I/O too: ``receive(message, peer, now)`` and
``handle_timer(now)`` in, ``next_action()`` out, ``next_timer()`` for the one timer to arm.
"""

from services.sip_core.sip.dialog import (
    DIALOG_CREATING_METHODS,
    TARGET_REFRESH_METHODS,
    Dialog,
    DialogState,
    DialogTable,
)
from services.sip_core.sip.errors import (
    FramingError,
    InvalidValue,
    MessageTooLarge,
    ParseError,
    SIPError,
    VersionNotSupported,
)
from services.sip_core.sip.headers import (
    COMPACT_FORMS,
    DIGEST_QUOTED,
    LIST_HEADERS,
    Auth,
    CSeq,
    Headers,
    NameAddr,
    Via,
    canonical_name,
    parse_auth,
    parse_cseq,
    parse_max_forwards,
    parse_name_addr,
    parse_name_addr_list,
    parse_via,
    parse_via_list,
)
from services.sip_core.sip.message import (
    DEFAULT_LIMITS,
    Limits,
    Message,
    Request,
    Response,
    StreamFramer,
    apply_received,
    error_response,
    is_keepalive,
    make_response,
    parse_datagram,
)
from services.sip_core.sip.status import REASON_PHRASES, reason_phrase
from services.sip_core.sip.syntax import Params, parse_params, quote, split_list, unquote
from services.sip_core.sip.timers import DEFAULT_TIMERS, Timers
from services.sip_core.sip.transaction import (
    MAGIC_COOKIE,
    Action,
    CancelReceived,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    Peer,
    RequestReceived,
    RequestRefused,
    ResponseReceived,
    Send,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    State,
    StrayResponseReceived,
    Transaction,
    TransactionError,
    TransactionLayer,
    TransactionTimedOut,
    TransportFailed,
    new_branch,
    new_tag,
    random_hex,
)
from services.sip_core.sip.uri import URI, AbsoluteURI, SipURI, TelURI, parse_uri

__all__ = [
    "COMPACT_FORMS",
    "DEFAULT_LIMITS",
    "DEFAULT_TIMERS",
    "DIALOG_CREATING_METHODS",
    "DIGEST_QUOTED",
    "LIST_HEADERS",
    "MAGIC_COOKIE",
    "REASON_PHRASES",
    "TARGET_REFRESH_METHODS",
    "URI",
    "AbsoluteURI",
    "Action",
    "Auth",
    "CSeq",
    "CancelReceived",
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ClientTransaction",
    "Dialog",
    "DialogState",
    "DialogTable",
    "FramingError",
    "Headers",
    "InvalidValue",
    "Limits",
    "Message",
    "MessageTooLarge",
    "NameAddr",
    "Params",
    "ParseError",
    "Peer",
    "Request",
    "RequestReceived",
    "RequestRefused",
    "Response",
    "ResponseReceived",
    "SIPError",
    "Send",
    "ServerInviteTransaction",
    "ServerNonInviteTransaction",
    "ServerTransaction",
    "SipURI",
    "State",
    "StrayResponseReceived",
    "StreamFramer",
    "TelURI",
    "Timers",
    "Transaction",
    "TransactionError",
    "TransactionLayer",
    "TransactionTimedOut",
    "TransportFailed",
    "VersionNotSupported",
    "Via",
    "apply_received",
    "canonical_name",
    "error_response",
    "is_keepalive",
    "make_response",
    "new_branch",
    "new_tag",
    "parse_auth",
    "parse_cseq",
    "parse_datagram",
    "parse_max_forwards",
    "parse_name_addr",
    "parse_name_addr_list",
    "parse_params",
    "parse_uri",
    "parse_via",
    "parse_via_list",
    "quote",
    "random_hex",
    "reason_phrase",
    "split_list",
    "unquote",
]
