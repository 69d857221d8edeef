"""The SIP core's sans-I/O layer: message codec (and, beside it, transactions and dialogs).

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
``errors`` (the exception tree).
"""

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
from services.sip_core.sip.uri import URI, AbsoluteURI, SipURI, TelURI, parse_uri

__all__ = [
    "COMPACT_FORMS",
    "DEFAULT_LIMITS",
    "DIGEST_QUOTED",
    "LIST_HEADERS",
    "REASON_PHRASES",
    "URI",
    "AbsoluteURI",
    "Auth",
    "CSeq",
    "FramingError",
    "Headers",
    "InvalidValue",
    "Limits",
    "Message",
    "MessageTooLarge",
    "NameAddr",
    "Params",
    "ParseError",
    "Request",
    "Response",
    "SIPError",
    "SipURI",
    "StreamFramer",
    "TelURI",
    "VersionNotSupported",
    "Via",
    "apply_received",
    "canonical_name",
    "error_response",
    "is_keepalive",
    "make_response",
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
    "reason_phrase",
    "split_list",
    "unquote",
]
