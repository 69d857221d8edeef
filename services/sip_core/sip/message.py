"""SIP messages: parsing them from bytes, changing them, writing them, answering them.

Implemented:

* RFC 3261 §7: start-line, header fields, empty line, body. §7.1 Request-Line with single SP
  separators, §7.2 Status-Line (Reason-Phrase kept opaque, may be empty), §7.3.1 header folding
  (replaced by one SP), §7.4.1 the body is bytes, never decoded.
* §18.3 framing. Datagrams: with Content-Length, extra octets are discarded and a shorter
  datagram is an error; without it, the body is the rest of the datagram. Streams: Content-Length
  is mandatory; CRLFs before a start-line are ignored (§7.5), and a CRLFCRLF keep-alive ping is
  counted (RFC 5626 §3.5.1) so the transport can answer it with a CRLF pong.
* §8.2 / §16.3 step 1 "reasonable syntax check", run by the parser so that every message it
  returns is safe for the transaction layer: SIP/2.0 only (505 otherwise, §8.2.2), exactly one
  Call-ID, CSeq, From and To (RFC 4475 §3.3.8), at least one Via, all Via values well formed
  (§3.1.2.1), CSeq number < 2**32 (§3.1.2.4) and method equal to the Request-Line's (§8.2,
  RFC 4475 §3.1.2.17), Max-Forwards 0-255 when present, Request-URI a URI and — for SIP/SIPS —
  without headers (§19.1.1 table 1, RFC 4475 §3.1.2.11), status code 100-699 (§3.1.2.19).
  Other header fields are split into lines once and parsed only when read (and then cached).
* §8.2.6 response construction (§8.2.6.1 Timestamp in 100, §8.2.6.2 copied fields and To tag,
  §12.1.1 Record-Route copied into dialog-creating responses).
* RFC 3581 §4 and RFC 3261 §18.2.1: ``received`` and ``rport`` on the top Via.

Skipped:

* RFC 2543 (§3.4 of RFC 4475): such requests parse (no branch, no tags, no Content-Length on
  UDP); matching them is the transaction layer's choice. Max-Forwards may therefore be absent.
* Bodies are opaque bytes: multipart (§7.4), Content-Encoding and S/MIME (§23) are not decoded.
* Output always uses full header names (§7.3.3 allows compact ones; switching to TCP for large
  requests, §18.1.1, is the transport's business).
* 501 for an unknown method with a mismatched CSeq (RFC 4475 §3.1.2.18): the codec cannot know
  which methods the application implements, so it answers 400, which the RFC accepts.

Limits (``Limits``) bound every input: the message size, the length of one header field, and
the number of header fields. Parsing is linear in the input size.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import NoReturn, TypeVar, cast

from services.sip_core.sip.errors import (
    FramingError,
    InvalidValue,
    MessageTooLarge,
    ParseError,
    VersionNotSupported,
)
from services.sip_core.sip.headers import (
    _CANON,
    _CANON_EXACT,
    Auth,
    CSeq,
    Headers,
    NameAddr,
    Via,
    apply_received_to_via,
    check_value,
    header_key,
    parse_auth,
    parse_cseq,
    parse_max_forwards,
    parse_name_addr,
    parse_name_addr_list,
    parse_via_list,
)
from services.sip_core.sip.status import reason_phrase
from services.sip_core.sip.syntax import is_token, split_list
from services.sip_core.sip.uri import URI, SipURI, parse_uri

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "Message",
    "Request",
    "Response",
    "StreamFramer",
    "apply_received",
    "error_response",
    "is_keepalive",
    "make_response",
    "parse_datagram",
]

_T = TypeVar("_T")
_MISSING = object()
_FOLDING_RE = re.compile(r"\r\n[ \t]+")


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what the parser accepts (websockets-style: every input is bounded).

    ``max_message_size`` covers start-line, headers and body (RFC 3261 §18.1.1 leaves it to the
    implementation; a UDP datagram cannot exceed 65,507 octets anyway). ``max_line_length``
    bounds the start-line and each header field after unfolding. ``max_header_count`` bounds
    the number of header fields (lines after unfolding).
    """

    max_message_size: int = 65_536
    max_line_length: int = 8_192
    max_header_count: int = 256

    def __post_init__(self) -> None:
        if min(self.max_message_size, self.max_line_length, self.max_header_count) < 1:
            raise InvalidValue("Limits must be positive")


DEFAULT_LIMITS = Limits()

# callid = word [ "@" word ]; word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" /
# "`" / "'" / "~" / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" /
# "}")  — §25.1. No escaping or grouping semantics (RFC 4475 §3.1.1.2).
_WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
_CALL_ID_RE = re.compile(rf"{_WORD}(?:@{_WORD})?")
_SIP_VERSION_RE = re.compile(r"SIP/[0-9]{1,9}\.[0-9]{1,9}", re.IGNORECASE)
_BAD_REQUEST_URI_RE = re.compile(r'[\x00-\x20\x7f<>"]')
_UNSAFE_START_LINE_RE = re.compile(r"[\x00-\x20\x7f]")
# Dialog-creating methods whose 101-299 responses carry the Record-Route set (§12.1.1,
# RFC 6665 §4.4.1, RFC 3515 §2.4.4).
_DIALOG_CREATING = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})


# -- messages -----------------------------------------------------------------------------


class Message:
    """What requests and responses share: ordered header fields and a ``bytes`` body."""

    __slots__ = ("_headers", "body")
    _headers: Headers
    body: bytes

    def __init__(
        self, headers: Headers | Iterable[tuple[str, str]] = (), body: bytes = b""
    ) -> None:
        self._headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.body = body

    @property
    def headers(self) -> Headers:
        """The header fields; Content-Length is rewritten from ``body`` on output."""
        return self._headers

    def start_line(self) -> str:
        """The Request-Line or Status-Line, without CRLF."""
        raise NotImplementedError

    # -- structured header values (parsed on first read, cached until their header changes;
    # the cache key is the header's lookup key, see ``Headers``) ---------------------------

    def _cached(self, key: str, parse: Callable[[Headers], _T]) -> _T:
        cache = self._headers._cache
        value = cache.get(key, _MISSING)
        if value is _MISSING:
            value = cache[key] = parse(self._headers)
        return value  # type: ignore[return-value]  # what parse() returned for this key

    # The values every layer reads again and again look in the cache first themselves: one
    # function call less per read, on the hottest path there is.

    @property
    def via(self) -> tuple[Via, ...]:
        """Every Via value, top first, whether in separate lines or comma-separated."""
        value = self._headers._cache.get("via")
        if value is None:
            return self._cached("via", _parse_vias)
        return value  # type: ignore[return-value]

    @property
    def top_via(self) -> Via:
        """The topmost Via value (the one a response is routed by, §18.2.2)."""
        vias = self._headers._cache.get("via") or self.via
        if not vias:
            raise ParseError("Missing Via header")
        return vias[0]  # type: ignore[index,no-any-return]

    @property
    def from_(self) -> NameAddr:
        """The From header field (``from`` is a Python keyword)."""
        value = self._headers._cache.get("from")
        if value is None:
            return self._cached("from", _parse_from)
        return value  # type: ignore[return-value]

    @property
    def to(self) -> NameAddr:
        """The To header field."""
        value = self._headers._cache.get("to")
        if value is None:
            return self._cached("to", _parse_to)
        return value  # type: ignore[return-value]

    @property
    def call_id(self) -> str:
        """The Call-ID, as written."""
        value = self._headers._cache.get("call-id")
        if value is None:
            return self._cached("call-id", _call_id)
        return value  # type: ignore[return-value]

    @property
    def cseq(self) -> CSeq:
        """The CSeq header field."""
        value = self._headers._cache.get("cseq")
        if value is None:
            return self._cached("cseq", _parse_cseq_header)
        return value  # type: ignore[return-value]

    @property
    def max_forwards(self) -> int | None:
        """Max-Forwards, or ``None`` when absent (RFC 2543 requests)."""
        return self._cached("max-forwards", _parse_max_forwards_header)

    @property
    def content_length(self) -> int:
        """The body's length: the parsed Content-Length (§18.3) and the one written on output."""
        return len(self.body)

    @property
    def content_type(self) -> str | None:
        """The Content-Type value as written (media type and parameters), or ``None``."""
        return self._headers._first("content-type")

    @property
    def contact(self) -> tuple[NameAddr, ...]:
        """Every Contact value; empty for ``Contact: *`` (see ``contact_is_wildcard``)."""
        return self._cached("contact", _parse_contacts)

    @property
    def contact_is_wildcard(self) -> bool:
        """Whether the Contact is ``*`` (REGISTER removing all bindings, §10.2.2)."""
        values = self._headers.values("contact")
        return values == ["*"]

    @property
    def route(self) -> tuple[NameAddr, ...]:
        """The Route set, in order."""
        return self._cached("route", _parse_routes)

    @property
    def record_route(self) -> tuple[NameAddr, ...]:
        """The Record-Route set, in order."""
        return self._cached("record-route", _parse_record_routes)

    def credentials(self, name: str = "Authorization") -> tuple[Auth, ...]:
        """Every credential (or challenge) in ``name`` header lines (one per line, §7.3.1)."""
        key = header_key(name)[0]
        return self._cached(key, lambda headers: _parse_auths(headers, name))

    # -- Via manipulation (a B2BUA pushes and pops its own Via) ------------------------

    def push_via(self, via: Via | str) -> None:
        """Insert ``via`` above all others (RFC 3261 §8.1.1.7, §16.6 step 8)."""
        self._headers.prepend("Via", str(via))

    def pop_via(self) -> Via:
        """Remove and return the top Via value, keeping the rest of its line (§18.1.2)."""
        top = self.top_via
        elements = split_list(cast(str, self._headers._first("via")))
        if len(elements) == 1:
            self._headers.remove_first("via")
        else:
            self._headers.replace_first("via", ", ".join(elements[1:]))
        return top

    def set_top_via(self, via: Via) -> None:
        """Replace the top Via value, leaving any others on its line in place."""
        line = self._headers._first("via")
        if line is None:
            raise ParseError("Missing Via header")
        elements = split_list(line)
        elements[0] = str(via)
        self._headers.replace_first("via", ", ".join(elements))

    # -- output -----------------------------------------------------------------------

    def __bytes__(self) -> bytes:
        body = self.body
        length = str(len(body))
        lines = [self.start_line()]
        wrote_length = False
        for key, name, value in self._headers._items:
            if key == "content-length":
                # One Content-Length, always equal to the body we send (§18.3, §20.14).
                if wrote_length:
                    continue
                value = length
                wrote_length = True
            lines.append(f"{name}: {value}")
        if not wrote_length:
            lines.append(f"Content-Length: {length}")
        lines += ("", "")
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + body

    def to_bytes(self) -> bytes:
        """The message on the wire, with a Content-Length matching ``body``."""
        return self.__bytes__()


class Request(Message):
    """A SIP request. ``uri`` is the Request-URI as written; ``request_uri`` parses it."""

    __slots__ = ("_method", "_request_uri", "_uri")
    _method: str
    _uri: str
    _request_uri: URI | None

    def __init__(
        self,
        method: str,
        uri: str | URI,
        headers: Headers | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        self.method = method
        self.uri = uri

    @classmethod
    def _parsed(cls, method: str, uri: str, headers: Headers, body: bytes = b"") -> Request:
        request = cls.__new__(cls)
        request._headers = headers
        request.body = body
        request._method = method
        request._uri = uri
        request._request_uri = None
        return request

    @property
    def method(self) -> str:
        """The method, case-sensitive (§7.1: ``INVITE`` ≠ ``invite``)."""
        return self._method

    @method.setter
    def method(self, value: str) -> None:
        if not is_token(value):
            raise InvalidValue("A method must be a token")
        self._method = value

    @property
    def uri(self) -> str:
        """The Request-URI as written."""
        return self._uri

    @uri.setter
    def uri(self, value: str | URI) -> None:
        text = str(value)
        if not text or _UNSAFE_START_LINE_RE.search(text):
            raise InvalidValue("A Request-URI cannot be empty or hold whitespace")
        self._uri = text
        self._request_uri = None if isinstance(value, str) else value

    @property
    def request_uri(self) -> URI:
        """The Request-URI parsed (cached)."""
        if self._request_uri is None:
            try:
                self._request_uri = parse_uri(self._uri)
            except ParseError as err:
                raise ParseError("Malformed Request-URI") from err
        return self._request_uri

    def start_line(self) -> str:
        return f"{self._method} {self._uri} SIP/2.0"

    def copy(self) -> Request:
        """An independent copy (headers copied, body shared: bytes are immutable)."""
        return Request._parsed(self._method, self._uri, self._headers.copy(), self.body)

    def __repr__(self) -> str:
        return f"<Request {self._method} {self._uri}>"


class Response(Message):
    """A SIP response."""

    __slots__ = ("_reason", "_status_code")
    _reason: str
    _status_code: int

    def __init__(
        self,
        status_code: int,
        reason: str | None = None,
        headers: Headers | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        self.status_code = status_code
        self.reason = reason_phrase(status_code) if reason is None else reason

    @classmethod
    def _parsed(cls, status_code: int, reason: str, headers: Headers) -> Response:
        response = cls.__new__(cls)
        response._headers = headers
        response.body = b""
        response._status_code = status_code
        response._reason = reason
        return response

    @property
    def status_code(self) -> int:
        """The three-digit status code, 100-699."""
        return self._status_code

    @status_code.setter
    def status_code(self, value: int) -> None:
        if not 100 <= value <= 699:
            raise InvalidValue("A status code is 100-699")
        self._status_code = value

    @property
    def reason(self) -> str:
        """The Reason-Phrase (free text, may be empty)."""
        return self._reason

    @reason.setter
    def reason(self, value: str) -> None:
        self._reason = check_value(value)

    def start_line(self) -> str:
        return f"SIP/2.0 {self._status_code} {self._reason}"

    def copy(self) -> Response:
        """An independent copy (headers copied, body shared)."""
        response = Response._parsed(self._status_code, self._reason, self._headers.copy())
        response.body = self.body
        return response

    def __repr__(self) -> str:
        return f"<Response {self._status_code} {self._reason}>"


# -- lazily parsed header values ------------------------------------------------------------


def _parse_vias(headers: Headers) -> tuple[Via, ...]:
    try:
        return parse_via_list(headers._all("via"))
    except ParseError as err:
        raise ParseError("Malformed Via header") from err


def _call_id(headers: Headers) -> str:
    value = headers._first("call-id")
    if value is None:
        raise ParseError("Missing Call-ID header")
    return value


def _single(headers: Headers, key: str, label: str) -> str:
    value = headers._first(key)
    if value is None:
        raise ParseError(f"Missing {label} header")
    return value


def _parse_from(headers: Headers) -> NameAddr:
    try:
        return parse_name_addr(_single(headers, "from", "From"))
    except ParseError as err:
        raise ParseError("Malformed From header") from err


def _parse_to(headers: Headers) -> NameAddr:
    try:
        return parse_name_addr(_single(headers, "to", "To"))
    except ParseError as err:
        raise ParseError("Malformed To header") from err


def _parse_cseq_header(headers: Headers) -> CSeq:
    try:
        return _parse_cseq_cached(_single(headers, "cseq", "CSeq"))
    except ParseError as err:
        raise ParseError("Malformed CSeq header") from err


# CSeq values repeat endlessly ("1 INVITE", "1 ACK", "2 BYE"…) and CSeq is immutable: parse
# each once (bounded; a failure is not cached and raises again).
_parse_cseq_cached = functools.lru_cache(maxsize=1024)(parse_cseq)


def _parse_max_forwards_header(headers: Headers) -> int | None:
    value = headers._first("max-forwards")
    if value is None:
        return None
    try:
        return parse_max_forwards(value)
    except ParseError as err:
        raise ParseError("Malformed Max-Forwards header") from err


def _parse_contacts(headers: Headers) -> tuple[NameAddr, ...]:
    lines = headers._all("contact")
    if [value.strip() for value in lines] == ["*"]:
        return ()
    try:
        return parse_name_addr_list(lines)
    except ParseError as err:
        raise ParseError("Malformed Contact header") from err


def _parse_routes(headers: Headers) -> tuple[NameAddr, ...]:
    try:
        return parse_name_addr_list(headers._all("route"))
    except ParseError as err:
        raise ParseError("Malformed Route header") from err


def _parse_record_routes(headers: Headers) -> tuple[NameAddr, ...]:
    try:
        return parse_name_addr_list(headers._all("record-route"))
    except ParseError as err:
        raise ParseError("Malformed Record-Route header") from err


def _parse_auths(headers: Headers, name: str) -> tuple[Auth, ...]:
    try:
        return tuple(parse_auth(value) for value in headers.get_all(name))
    except ParseError as err:
        raise ParseError(f"Malformed {header_key(name)[1]} header") from err


# -- parsing ------------------------------------------------------------------------------


def parse_datagram(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Request | Response:
    """Parse one message received in a datagram (UDP) — RFC 3261 §18.3.

    Returns a ``Request`` or ``Response`` that passed the syntax check described in this
    module's docstring, or raises a ``ParseError`` subclass (see ``errors``); nothing else.
    """
    if len(data) > limits.max_message_size:
        raise MessageTooLarge(
            "Message Too Large", partial=_salvage(data[: limits.max_message_size], limits)
        )
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        if start == len(data):
            raise ParseError("Empty message")
        # The RFC 4475 archive's baddn.dat ends like this (no empty line after the headers).
        raise ParseError("Missing empty line after header fields", partial=_salvage(data, limits))
    head = data[start:end]
    try:
        start_line, items = _split_head(head, limits)
        message = _make_message(start_line, items)
    except ParseError as err:
        err.partial = _salvage(head, limits)
        raise
    try:
        length = _content_length(items)
        body_start = end + 4
        if length is None:
            message.body = data[body_start:]
        elif body_start + length > len(data):
            # §18.3: the datagram ends before the body does — 400 for a request.
            raise FramingError("Content-Length exceeds the datagram")
        else:
            # §18.3: octets beyond Content-Length are discarded (RFC 4475 §3.1.1.8).
            message.body = data[body_start : body_start + length]
        _check(message)
    except ParseError as err:
        err.partial = _answerable(message)
        raise
    return message


def _split_head(head: bytes, limits: Limits) -> tuple[str, list[tuple[str, str, str]]]:
    """Split the header section into the start-line and ``(key, name, value)`` fields."""
    crlf = head.count(b"\r\n")
    if head.count(b"\r") != crlf or head.count(b"\n") != crlf:
        # A lone CR or LF would be read as a line end by some elements and not by others.
        raise ParseError("Bare CR or LF in header fields")
    text = head.decode("utf-8", "surrogateescape")
    if "\r\n " in text or "\r\n\t" in text:
        # §7.3.1: a line starting with whitespace continues the previous field; the line
        # break and the whitespace after it are equivalent to one SP. Done in one linear
        # pass (a field folded into thousands of lines costs no more than one long line).
        text = _FOLDING_RE.sub(" ", text)
    lines = text.split("\r\n")
    # Once unfolded, every line after the start-line is one header field.
    if len(lines) - 1 > limits.max_header_count:
        raise MessageTooLarge("Too many header fields")
    if max(map(len, lines)) > limits.max_line_length:
        raise MessageTooLarge("Header field too long")
    exact = _CANON_EXACT.get
    canon = _CANON.get
    items: list[tuple[str, str, str]] = []
    append = items.append
    for line in islice(lines, 1, None):
        name, colon, value = line.partition(":")
        known = exact(name) or canon(name.lower())
        if known is None:
            # HCOLON = *( SP / HTAB ) ":" SWS  (§25.1)
            name = name.rstrip(" \t")
            lname = name.lower()
            known = canon(lname)
            if known is None:
                if not colon or not is_token(name):
                    raise ParseError("Malformed header field")
                known = (lname, name)
        elif not colon:
            raise ParseError("Malformed header field")
        append((known[0], known[1], value.strip(" \t")))
    return lines[0], items


def _make_message(start_line: str, items: list[tuple[str, str, str]]) -> Request | Response:
    headers = Headers._from_items(items)
    if start_line.startswith("SIP/"):
        version, _, rest = start_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if version.upper() != "SIP/2.0":
            raise ParseError("Unsupported SIP version in response")
        # Status-Code = 3DIGIT, 100-699 (§7.2, RFC 4475 §3.1.2.19).
        if len(code) != 3 or not code.isdigit() or code[0] not in "123456":
            raise ParseError("Malformed Status-Line")
        return Response._parsed(int(code), reason, headers)
    # Request-Line = Method SP Request-URI SP SIP-Version — exactly one SP each (§7.1,
    # RFC 4475 §3.1.2.7-§3.1.2.10 reject extra or missing SP and LWS in the URI).
    parts = start_line.split(" ")
    if len(parts) != 3:
        raise ParseError("Malformed Request-Line")
    method, uri, version = parts
    if not is_token(method):
        raise ParseError("Malformed method")
    if version != "SIP/2.0" and version.upper() != "SIP/2.0":
        if _SIP_VERSION_RE.fullmatch(version):
            raise VersionNotSupported("SIP Version Not Supported")
        raise ParseError("Malformed SIP-Version")
    if not uri or _BAD_REQUEST_URI_RE.search(uri):
        raise ParseError("Malformed Request-URI")
    return Request._parsed(method, uri, headers)


def _content_length(items: list[tuple[str, str, str]]) -> int | None:
    values = [value for key, _, value in items if key == "content-length"]
    if not values:
        return None
    if len(values) > 1:
        # Two lengths: the framing is unknowable (RFC 4475 §3.3.9).
        raise FramingError("Multiple Content-Length headers")
    value = values[0]
    # 1*DIGIT only: a negative or non-numeric length is never used (RFC 4475 §3.1.2.3).
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        raise FramingError("Malformed Content-Length")
    return int(value)


def _check(message: Request | Response) -> None:
    """The syntax check every returned message passes (see the module docstring)."""
    keys = [item[0] for item in message.headers._items]
    for key, label in (("call-id", "Call-ID"), ("cseq", "CSeq"), ("from", "From"), ("to", "To")):
        count = keys.count(key)
        if count != 1:
            raise ParseError(
                f"Missing {label} header" if not count else f"Multiple {label} headers"
            )
    if "via" not in keys:
        raise ParseError("Missing Via header")
    # Parsed (and cached for the layers above) to check them.
    _ = (message.via, message.from_, message.to)
    if _CALL_ID_RE.fullmatch(message.call_id) is None:
        raise ParseError("Malformed Call-ID header")
    cseq = message.cseq
    if isinstance(message, Request):
        if keys.count("max-forwards") > 1:
            raise ParseError("Multiple Max-Forwards headers")
        _ = message.max_forwards
        if cseq.method != message.method:
            raise ParseError("CSeq method does not match the Request-Line")
        uri = message.request_uri
        if isinstance(uri, SipURI) and uri.headers:
            raise ParseError("Request-URI must not carry headers")


def _answerable(message: Request | Response) -> Request | None:
    # Never answer a response (§18.1.2) or an ACK (§17.2.1); without a Via there is nowhere
    # to send the answer (§18.2.2).
    if isinstance(message, Request) and message.method != "ACK" and "via" in message.headers:
        return message
    return None


def _salvage(head: bytes, limits: Limits) -> Request | None:
    """Best effort after a syntax error: the method and whatever header lines can be read.

    Enough for ``make_response`` to echo Via, From, To, Call-ID and CSeq in a 4xx. Lines that
    cannot be read are skipped; values are cut to the line limit and hold no line breaks.
    """
    lines = head[: limits.max_message_size].decode("utf-8", "surrogateescape").splitlines()
    index = 0
    while index < len(lines) and not lines[index]:
        index += 1
    if index == len(lines):
        return None
    start_parts = lines[index].split(" ")
    method = start_parts[0]
    if not is_token(method) or method == "ACK":
        return None
    uri = next((part for part in start_parts[1:] if part), "")
    max_line = limits.max_line_length
    items: list[tuple[str, str, str]] = []
    for line in lines[index + 1 :]:
        if not line or len(items) >= limits.max_header_count:
            break
        if line[0] in " \t":
            if items:
                key, name, value = items[-1]
                more = line.strip(" \t")
                items[-1] = (key, name, f"{value} {more}"[:max_line])
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if colon and is_token(name):
            key, name = header_key(name)
            items.append((key, name, value.strip(" \t")[:max_line]))
    if not any(key == "via" for key, _, _ in items):
        return None
    return Request._parsed(method, uri, Headers._from_items(items))


class StreamFramer:
    """Cut a stream (TCP, TLS) into messages by Content-Length — RFC 3261 §18.3.

    ``feed()`` what the connection reads, then call ``next_message()`` until it returns
    ``None`` (more bytes needed). It raises ``ParseError`` subclasses only:

    * ``FramingError`` or ``MessageTooLarge``: where the next message starts is unknowable
      (no or bad Content-Length, too large, unreadable header section). Answer
      ``err.partial`` if set, then close the connection (RFC 4475 §3.1.2.3, §3.3.9);
      ``failed`` is now true and every later call raises ``FramingError``.
    * any other ``ParseError``: that message was consumed and rejected; answer it and keep
      reading — the stream is still in step.

    CRLFs before a start-line are skipped (§7.5). Each CRLFCRLF among them is a keep-alive
    ping (RFC 5626 §3.5.1); ``take_pings()`` says how many to answer with a CRLF pong.
    """

    __slots__ = ("_buffer", "_crlfs", "_failed", "_limits", "_pending", "_pings", "_scan_from")

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._buffer = bytearray()
        self._scan_from = 0
        self._pending: tuple[bytes, str, list[tuple[str, str, str]], int, int] | None = None
        self._failed = False
        self._crlfs = 0
        self._pings = 0

    @property
    def failed(self) -> bool:
        """Whether framing was lost: the connection must be closed."""
        return self._failed

    @property
    def buffered(self) -> int:
        """How many received octets are not yet part of a returned message."""
        return len(self._buffer)

    def take_pings(self) -> int:
        """How many CRLFCRLF pings arrived since the last call."""
        pings, self._pings = self._pings, 0
        return pings

    def feed(self, data: bytes) -> None:
        """Append received octets (then call ``next_message`` until it returns ``None``)."""
        if self._failed:
            raise FramingError("Stream framing was lost")
        self._buffer += data

    def next_message(self) -> Request | Response | None:
        """The next complete message, or ``None`` until more octets arrive."""
        if self._failed:
            raise FramingError("Stream framing was lost")
        buffer = self._buffer
        limits = self._limits
        if self._pending is None:
            skipped = 0
            while buffer.startswith(b"\r\n", skipped):
                skipped += 2
                self._crlfs += 1
                if self._crlfs == 2:
                    self._pings += 1
                    self._crlfs = 0
            if skipped:
                del buffer[:skipped]
                self._scan_from = 0
            if not buffer:
                return None
            end = buffer.find(b"\r\n\r\n", self._scan_from)
            if end < 0:
                if len(buffer) > limits.max_message_size:
                    self._fail(MessageTooLarge("Message Too Large"), bytes(buffer))
                self._scan_from = max(0, len(buffer) - 3)
                return None
            self._crlfs = 0
            head = bytes(buffer[:end])
            if end + 4 > limits.max_message_size:
                self._fail(MessageTooLarge("Message Too Large"), head)
            try:
                start_line, items = _split_head(head, limits)
                length = _content_length(items)
            except ParseError as err:
                if isinstance(err, (FramingError, MessageTooLarge)):
                    self._fail(err, head)
                self._fail(FramingError(err.reason), head)
            if length is None:
                # §18.3 / §20.14: Content-Length MUST be present on a stream.
                self._fail(FramingError("Missing Content-Length"), head)
            total = end + 4 + length
            if total > limits.max_message_size:
                self._fail(MessageTooLarge("Message Too Large"), head)
            self._pending = (head, start_line, items, end + 4, total)
        head, start_line, items, body_start, total = self._pending
        if len(buffer) < total:
            return None
        body = bytes(buffer[body_start:total])
        del buffer[:total]
        self._pending = None
        self._scan_from = 0
        try:
            message = _make_message(start_line, items)
        except ParseError as err:
            err.partial = _salvage(head, limits)
            raise
        message.body = body
        try:
            _check(message)
        except ParseError as err:
            err.partial = _answerable(message)
            raise
        return message

    def _fail(self, err: ParseError, head: bytes) -> NoReturn:
        self._failed = True
        self._pending = None
        self._buffer.clear()
        err.partial = _salvage(head, self._limits)
        raise err


# -- building -----------------------------------------------------------------------------


def make_response(
    request: Request,
    status_code: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Response:
    """A response to ``request`` built as a UAS does (RFC 3261 §8.2.6).

    Copies every Via line in order, and From, To, Call-ID and CSeq (§8.2.6.2); adds
    ``;tag=to_tag`` to To when given and To has no tag yet; copies Timestamp into a 100
    (§8.2.6.1) and Record-Route into a 101-299 response to a dialog-creating request
    (§12.1.1). ``headers`` are appended. Works on a ``ParseError.partial`` too: fields it
    lacks are left out and a To that cannot be parsed is echoed unchanged.
    """
    if to_tag is not None and not is_token(to_tag):
        raise InvalidValue("A tag must be a token")
    if not 100 <= status_code <= 699:
        raise InvalidValue("A status code is 100-699")
    # Response(status_code, reason) without building header fields only to replace them.
    reason = reason_phrase(status_code) if reason is None else check_value(reason)
    copy_record_route = 101 <= status_code <= 299 and request.method in _DIALOG_CREATING
    parsed = request.headers._cache
    to: NameAddr | None = parsed.get("to")  # type: ignore[assignment]
    items: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for item in request.headers._items:
        key = item[0]
        if key == "via" or (key == "record-route" and copy_record_route):
            items.append(item)
        elif key in _COPIED and key not in seen:
            seen.add(key)
            if key == "to" and to_tag is not None:
                if to is None:
                    item = (key, item[1], _with_tag(item[2], to_tag))
                elif to.tag is None:
                    # Appending is right for both forms (see _with_tag).
                    item = (key, item[1], f"{item[2]};tag={to_tag}")
                    to = to.with_params(to.params.with_param("tag", to_tag))
            items.append(item)
        elif key == "timestamp" and status_code == 100 and key not in seen:
            seen.add(key)
            items.append(item)
    headers_out = Headers._from_items(items)
    response = Response._parsed(status_code, reason, headers_out)
    # The values the request parsed are the response's too (the same lines, copied): a
    # response read back (its To tag, by the transaction layer) is not parsed again.
    cache = headers_out._cache
    for key in _COPIED_PARSED:
        value = parsed.get(key)
        if value is not None:
            cache[key] = value
    if to is not None and "to" in seen:
        cache["to"] = to
    for name, value in headers:
        headers_out.add(name, value)
    response.body = body
    return response


_COPIED = frozenset({"from", "to", "call-id", "cseq"})
# Every Via line is copied (so the parsed list is the same); From, Call-ID and CSeq are parsed
# from their first line, the one copied.
_COPIED_PARSED = ("via", "from", "call-id", "cseq")


def _with_tag(value: str, tag: str) -> str:
    try:
        to = parse_name_addr(value)
    except ParseError:
        return value
    if to.tag is not None:
        return value
    # Appending is right for both forms: after a bare addr-spec, ";tag" is a header
    # parameter too (§20.10).
    return f"{value};tag={tag}"


def error_response(err: ParseError, *, to_tag: str | None = None) -> Response | None:
    """The response to send for a rejected message, or ``None`` if it must not be answered."""
    if err.partial is None:
        return None
    return make_response(err.partial, err.status_code, err.reason, to_tag=to_tag)


def apply_received(
    request: Request, source_host: str, source_port: int, *, force_rport: bool = False
) -> None:
    """Record on the top Via where ``request`` really came from (RFC 3261 §18.2.1, RFC 3581 §4).

    Adds ``received=source_host`` when sent-by names another host, and, when the client
    asked with ``rport`` (or ``force_rport`` is set, for NAT'd peers that do not ask), fills
    ``rport=source_port`` and always adds ``received``. Call it on every received request,
    before anything reads the Via.
    """
    vias = request.via
    if not vias:
        raise ParseError("Missing Via header")
    via = vias[0]
    updated = apply_received_to_via(via, source_host, source_port, force_rport=force_rport)
    if updated is not via and updated != via:
        request.set_top_via(updated)
        # ``updated`` is what parsing the new line gives back (a parsed Via with two more
        # parameters whose values are a port and an address): keep the parsed list.
        request.headers._cache["via"] = (updated, *vias[1:])


def is_keepalive(data: bytes) -> bool:
    """Whether a datagram is a keep-alive (CRLFs and the like) to drop without logging."""
    return bool(data) and not data.strip(b"\r\n\t \x00")
