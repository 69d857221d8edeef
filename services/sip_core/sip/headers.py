"""Header fields: names, the ordered header list, and the structured values the core reads.

Implemented:

* RFC 3261 §7.3: header field names are case-insensitive; §7.3.3 compact forms (``i m e l c f s
  k t v``) and the compact forms registered since (``o u`` RFC 6665, ``r`` RFC 3515, ``b``
  RFC 3892, ``x`` RFC 4028, ``y`` RFC 8224, ``a d j`` RFC 3841) map to the full names. Known
  names are written in their canonical case; unknown names keep the case they arrived with,
  so an unknown header is forwarded unchanged (RFC 4475 §3.1.1.1).
* §7.3.1: a header field may repeat, and list-valued fields may also be comma-separated in one
  line; ``Headers`` keeps header lines in order, ``split_list`` yields the elements.
* §20.42 / §25.1 ``Via`` (sent-protocol, sent-by, via-params, LWS around ``/`` ``:`` ``;``
  ``=``), RFC 3581 §3 ``rport``, RFC 3261 §18.2.2 response address.
* §20.10 / §25.1 ``name-addr`` / ``addr-spec`` for From, To, Contact, Route, Record-Route:
  ``;params`` after a bare ``addr-spec`` are header parameters, not URI parameters (§20.10,
  RFC 4475 §3.3.12); ``Contact: *`` (§10.2.2).
* §20.16 ``CSeq`` (number below 2**32, RFC 4475 §3.1.2.4), §20.22 ``Max-Forwards`` (0-255).
* §25.1 ``credentials`` / ``challenge`` (Authorization, Proxy-Authorization, WWW-Authenticate,
  Proxy-Authenticate): scheme and ``auth-param`` list, quoted values unescaped; an unknown
  scheme parses like Digest (RFC 4475 §3.3.7).

Liberal where RFC 4475 allows it and the result is unambiguous: an unquoted display name may
hold any characters but ``"`` and ``<`` (§3.1.2.15, ``Bell, Alexander <sip:...>``), spaces
inside ``<...>`` are ignored (§3.1.2.14), and no LWS is needed before ``<`` (§3.1.1.6). On
output display names are always quoted, so such errors are never propagated.

Skipped: per-header grammars not needed by the core (Date, Warning, Retry-After, Accept
parameters, Event…) — those values stay raw strings. ``token68`` credentials (RFC 7235) are not
recognised.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import KW_ONLY, dataclass, replace

from services.sip_core.sip.errors import InvalidValue, ParseError
from services.sip_core.sip.syntax import (
    EMPTY_PARAMS,
    Params,
    is_token,
    parse_params,
    quote,
    read_quoted,
    split_list,
)
from services.sip_core.sip.uri import URI, parse_uri

__all__ = [
    "COMPACT_FORMS",
    "DIGEST_QUOTED",
    "LIST_HEADERS",
    "Auth",
    "CSeq",
    "Headers",
    "NameAddr",
    "Via",
    "canonical_name",
    "parse_auth",
    "parse_cseq",
    "parse_max_forwards",
    "parse_name_addr",
    "parse_name_addr_list",
    "parse_via",
    "parse_via_list",
]

# RFC 3261 §7.3.3 and later registrations (IANA "Header Fields" registry, compact form column).
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",  # RFC 3841
    "b": "Referred-By",  # RFC 3892
    "c": "Content-Type",
    "d": "Request-Disposition",  # RFC 3841
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",  # RFC 3841
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "o": "Event",  # RFC 6665
    "r": "Refer-To",  # RFC 3515
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",  # RFC 6665
    "v": "Via",
    "x": "Session-Expires",  # RFC 4028
    "y": "Identity",  # RFC 8224
}

_FULL_NAMES = (
    "Accept",
    "Accept-Contact",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Diversion",
    "Error-Info",
    "Event",
    "Expires",
    "From",
    "History-Info",
    "Identity",
    "In-Reply-To",
    "Max-Forwards",
    "MIME-Version",
    "Min-Expires",
    "Min-SE",
    "Organization",
    "P-Asserted-Identity",
    "P-Charging-Vector",
    "P-Preferred-Identity",
    "Path",
    "Priority",
    "Privacy",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "RAck",
    "Reason",
    "Record-Route",
    "Refer-To",
    "Referred-By",
    "Reject-Contact",
    "Remote-Party-ID",
    "Replaces",
    "Reply-To",
    "Request-Disposition",
    "Require",
    "Retry-After",
    "Route",
    "RSeq",
    "Server",
    "Service-Route",
    "Session-Expires",
    "SIP-ETag",
    "SIP-If-Match",
    "Subject",
    "Subscription-State",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
)

# lower-cased name (full or compact) -> (lookup key, canonical name)
_CANON: dict[str, tuple[str, str]] = {name.lower(): (name.lower(), name) for name in _FULL_NAMES}
_CANON.update({c: (full.lower(), full) for c, full in COMPACT_FORMS.items()})
# The same for the spellings met on the wire (canonical, lower and upper case): one dict lookup
# per header line instead of lower-casing first.
_CANON_EXACT: dict[str, tuple[str, str]] = {
    **{name.upper(): known for name, known in _CANON.items()},
    **_CANON,
    **{known[1]: known for known in _CANON.values()},
}

# Header fields whose values are comma-separated lists (§7.3.1). Authorization and
# WWW-Authenticate are not, although their values contain commas (§7.3.1 exception).
LIST_HEADERS = frozenset(
    {
        "accept",
        "accept-contact",
        "accept-encoding",
        "accept-language",
        "alert-info",
        "allow",
        "allow-events",
        "call-info",
        "contact",
        "content-encoding",
        "content-language",
        "diversion",
        "error-info",
        "history-info",
        "in-reply-to",
        "p-asserted-identity",
        "p-preferred-identity",
        "path",
        "proxy-require",
        "reason",
        "record-route",
        "reject-contact",
        "require",
        "route",
        "service-route",
        "supported",
        "unsupported",
        "via",
        "warning",
    }
)


def header_key(name: str) -> tuple[str, str]:
    """``(lookup key, name to write)`` for a header name as received or given."""
    lname = name.lower()
    known = _CANON.get(lname)
    if known is not None:
        return known
    return lname, name


def canonical_name(name: str) -> str:
    """The full, canonically cased name of a header (``"v"`` → ``"Via"``); unknown unchanged."""
    return header_key(name)[1]


def _key(name: str) -> str:
    known = _CANON_EXACT.get(name)
    if known is not None:
        return known[0]
    lname = name.lower()
    known = _CANON.get(lname)
    return lname if known is None else known[0]


_REDACTED = frozenset({"authorization", "proxy-authorization"})


def check_value(value: str) -> str:
    """Refuse a header value that would not serialise, or would inject lines."""
    if "\r" in value or "\n" in value:
        raise InvalidValue("CR and LF cannot appear in a header value")
    if not value.isascii():
        try:
            value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise InvalidValue("Header value cannot be encoded as UTF-8") from None
    return value


class Headers:
    """The header fields of a message, in order, as ``(name, raw value)`` lines.

    Lookups accept any case and the compact forms (``get("v")`` finds ``Via``). Each header
    line is one entry: a line holding ``a, b`` is one entry (use ``values()`` for the list
    elements). ``Message`` caches the structured values it parses under the lookup key of the
    header they come from (``"via"``, ``"to"``…); a change to a header drops that header's
    entry only, so pushing a Via does not make From, To or CSeq parse again.
    """

    __slots__ = ("_cache", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str, str]] = []
        self._cache: dict[str, object] = {}
        for name, value in items:
            self.add(name, value)

    @classmethod
    def _from_items(cls, items: list[tuple[str, str, str]]) -> Headers:
        headers = cls.__new__(cls)
        headers._items = items
        headers._cache = {}
        return headers

    @staticmethod
    def _entry(name: str, value: str) -> tuple[str, str, str]:
        known = _CANON_EXACT.get(name)  # a known name is a token: no need to check it
        if known is None:
            if not is_token(name):
                raise InvalidValue("A header name must be a token")
            known = header_key(name)
        return known[0], known[1], check_value(value)

    # -- reading -------------------------------------------------------------------------

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the first ``name`` header line, or ``default``."""
        key = _key(name)
        for k, _, value in self._items:
            if k == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """The values of every ``name`` header line, in order."""
        key = _key(name)
        return [value for k, _, value in self._items if k == key]

    def _first(self, key: str) -> str | None:
        # get() for a lookup key (lower-case full name): what the codec itself reads.
        for item in self._items:
            if item[0] == key:
                return item[2]
        return None

    def _all(self, key: str) -> list[str]:
        return [item[2] for item in self._items if item[0] == key]

    def values(self, name: str) -> list[str]:
        """The comma-separated elements of every ``name`` line, in order, empty ones dropped.

        For list-valued fields (Allow, Supported, Require, Accept…); raises ``ParseError`` on
        an unterminated quoted-string or ``<``.
        """
        return [element for line in self.get_all(name) for element in split_list(line) if element]

    def count(self, name: str) -> int:
        """How many ``name`` header lines there are."""
        key = _key(name)
        return sum(1 for k, _, _ in self._items if k == key)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = _key(name)
        return any(k == key for k, _, _ in self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((name, value) for _, name, value in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        # Credentials are never logged (STYLE.md "Never log … Authorization values").
        shown = [
            (name, "<redacted>" if key in _REDACTED else value) for key, name, value in self._items
        ]
        return f"Headers({shown!r})"

    def copy(self) -> Headers:
        """An independent copy (the values are immutable strings)."""
        return Headers._from_items(list(self._items))

    # -- changing ------------------------------------------------------------------------

    def _changed(self, key: str) -> None:
        cache = self._cache
        if cache:
            cache.pop(key, None)

    def add(self, name: str, value: str) -> None:
        """Append a ``name: value`` line after all others."""
        entry = self._entry(name, value)
        self._items.append(entry)
        self._changed(entry[0])

    def insert(self, index: int, name: str, value: str) -> None:
        """Insert a ``name: value`` line at position ``index`` among all lines."""
        entry = self._entry(name, value)
        self._items.insert(index, entry)
        self._changed(entry[0])

    def prepend(self, name: str, value: str) -> None:
        """Insert a line before the first ``name`` line (at the top if there is none).

        This is how a proxy or B2BUA pushes its Via (RFC 3261 §16.6 step 8).
        """
        entry = self._entry(name, value)
        for index, (k, _, _) in enumerate(self._items):
            if k == entry[0]:
                self._items.insert(index, entry)
                break
        else:
            self._items.insert(0, entry)
        self._changed(entry[0])

    def set(self, name: str, value: str) -> None:
        """Replace every ``name`` line by one ``name: value`` line, where the first one was."""
        entry = self._entry(name, value)
        key = entry[0]
        items: list[tuple[str, str, str]] = []
        placed = False
        for item in self._items:
            if item[0] != key:
                items.append(item)
            elif not placed:
                items.append(entry)
                placed = True
        if not placed:
            items.append(entry)
        self._items = items
        self._changed(key)

    def replace_first(self, name: str, value: str) -> None:
        """Replace the value of the first ``name`` line, keeping its place and name."""
        key = _key(name)
        check_value(value)
        for index, (k, written, _) in enumerate(self._items):
            if k == key:
                self._items[index] = (k, written, value)
                self._changed(key)
                return
        raise KeyError(name)

    def remove(self, name: str) -> int:
        """Remove every ``name`` line; return how many there were."""
        key = _key(name)
        before = len(self._items)
        self._items = [item for item in self._items if item[0] != key]
        removed = before - len(self._items)
        if removed:
            self._changed(key)
        return removed

    def remove_first(self, name: str) -> None:
        """Remove the first ``name`` line."""
        key = _key(name)
        for index, (k, _, _) in enumerate(self._items):
            if k == key:
                del self._items[index]
                self._changed(key)
                return
        raise KeyError(name)


# -- Via --------------------------------------------------------------------------------

_MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=...;received=...;rport``."""

    transport: str
    host: str
    port: int | None = None
    params: Params = EMPTY_PARAMS
    _: KW_ONLY
    protocol: str = "SIP/2.0"

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        return f"{self.protocol}/{self.transport} {self.host}{port}{self.params}"

    @property
    def sent_by(self) -> str:
        """``host[:port]`` as the sender wrote it (used in transaction matching, §17.2.3)."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def branch(self) -> str | None:
        """The branch parameter (the transaction id of an RFC 3261 client), or ``None``."""
        return self.params.get("branch")

    @property
    def is_rfc3261_branch(self) -> bool:
        """Whether the branch carries the magic cookie *and* an identifier (§8.1.1.7).

        ``branch=z9hG4bK`` alone (RFC 4475 §3.2.1) is not one: match such a request the
        RFC 2543 way (§17.2.3) or reject it.
        """
        branch = self.branch
        return branch is not None and len(branch) > 7 and branch.startswith(_MAGIC_COOKIE)

    @property
    def received(self) -> str | None:
        """The ``received`` parameter (RFC 3261 §18.2.1), or ``None``."""
        return self.params.get("received")

    @property
    def has_rport(self) -> bool:
        """Whether ``rport`` is present, with or without a value (RFC 3581 §3)."""
        return "rport" in self.params

    @property
    def rport(self) -> int | None:
        """The ``rport`` value filled in by a server (RFC 3581 §4), or ``None``."""
        value = self.params.get("rport")
        if value is None or not (value.isascii() and value.isdigit() and len(value) <= 5):
            return None
        return int(value)

    @property
    def maddr(self) -> str | None:
        """The ``maddr`` parameter, or ``None``."""
        return self.params.get("maddr")

    def with_param(self, name: str, value: str | None = None) -> Via:
        """A copy with ``name`` set to ``value`` (replaced in place or appended)."""
        return replace(self, params=self.params.with_param(name, value))

    def response_target(self) -> tuple[str, int]:
        """Where a response to this Via goes over an unreliable transport (§18.2.2).

        ``maddr`` first, then ``received`` (else the sent-by host); the port is the ``rport``
        value when the server filled it (RFC 3581 §4), else the sent-by port, else 5060
        (5061 for TLS, §19.1.2 — a reliable transport reuses its connection instead).
        """
        default = 5061 if self.transport == "TLS" else 5060
        port = self.port if self.port is not None else default
        maddr = self.maddr
        if maddr is not None:
            return maddr, port
        rport = self.rport
        host = self.received or self.host
        if host.startswith("["):
            host = host[1:-1]
        return host, port if rport is None else rport


_new = object.__new__
_set_via_transport = Via.__dict__["transport"].__set__
_set_via_host = Via.__dict__["host"].__set__
_set_via_port = Via.__dict__["port"].__set__
_set_via_params = Via.__dict__["params"].__set__
_set_via_protocol = Via.__dict__["protocol"].__set__


def _new_via(transport: str, host: str, port: int | None, params: Params, protocol: str) -> Via:
    # The parser's constructor, bypassing the frozen dataclass __init__ (see uri._new_sip_uri).
    via: Via = _new(Via)
    _set_via_transport(via, transport)
    _set_via_host(via, host)
    _set_via_port(via, port)
    _set_via_params(via, params)
    _set_via_protocol(via, protocol)
    return via


# via-parm = sent-protocol LWS sent-by *( SEMI via-params ), with LWS allowed around "/" and
# ":" (§25.1 SLASH, COLON). Token, host, whitespace and separator classes do not overlap where
# they meet, so the match is linear.
_VIA_RE = re.compile(
    r"[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*/"
    r"[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._]+)(?:[ \t]*:[ \t]*([0-9]{1,5}))?[ \t]*(?:;(.*))?",
    re.DOTALL,
)


def parse_via(text: str) -> Via:
    """Parse one via-parm (one element of a Via list) — §25.1 ``via-parm``."""
    match = _VIA_RE.fullmatch(text)
    if match is None:
        raise ParseError("Malformed Via")
    name, version, transport, host, port_text, params_text = match.groups()
    port: int | None = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535:
            raise ParseError("Malformed Via port")
    params = EMPTY_PARAMS
    if params_text is not None:
        # branch, received and rport are read leniently by the properties (a malformed
        # value reads as absent), so the generic-param grammar is the only check here.
        params = parse_params(params_text)
    return _new_via(transport.upper(), host, port, params, f"{name}/{version}".upper())


def parse_via_list(lines: Iterable[str]) -> tuple[Via, ...]:
    """Every Via value of the given header lines, in order; empty elements are errors."""
    vias: list[Via] = []
    for line in lines:
        for element in split_list(line):
            if not element:
                raise ParseError("Empty Via value")
            vias.append(parse_via(element))
    return tuple(vias)


def apply_received_to_via(
    via: Via, source_host: str, source_port: int, *, force_rport: bool
) -> Via:
    """``via`` with ``received``/``rport`` set for a request from ``source_host:source_port``.

    RFC 3261 §18.2.1: add ``received`` when sent-by is a name or another address.
    RFC 3581 §4: when ``rport`` is present (or ``force_rport``, for peers behind NAT that do
    not ask), fill it with the source port and add ``received`` even if the address matches.
    """
    rport = force_rport or via.has_rport
    if not rport and _same_address(via.host, source_host):
        return via  # nothing to add: the same object, so callers can skip rewriting the line
    params = via.params
    if rport:
        params = params.with_param("rport", str(source_port))
    params = params.with_param("received", source_host)
    return replace(via, params=params)


# A node talks to few peers, and both strings come from the same few senders: remember the
# answers instead of parsing two addresses for every request (bounded, so a flood of made-up
# sent-by hosts costs a cache miss, never memory).
@functools.lru_cache(maxsize=4096)
def _same_address(sent_by_host: str, source_host: str) -> bool:
    try:
        return ipaddress.ip_address(sent_by_host.strip("[]")) == ipaddress.ip_address(
            source_host.strip("[]")
        )
    except ValueError:
        # sent-by is a domain name: received is always added (§18.2.1).
        return False


# -- name-addr ----------------------------------------------------------------------------


class NameAddr:
    """A ``name-addr`` / ``addr-spec`` value: From, To, Contact, Route, Record-Route…

    Immutable. The URI is parsed when ``uri`` is first read (the transaction and dialog layers
    only need the tags); ``uri_text`` is the URI as written between ``<>``.
    """

    __slots__ = ("_display_name", "_params", "_uri", "_uri_text")

    def __init__(
        self, uri: URI | str, display_name: str | None = None, params: Params = EMPTY_PARAMS
    ) -> None:
        if isinstance(uri, str):
            self._uri: URI | None = None
            self._uri_text = uri
        else:
            self._uri = uri
            self._uri_text = str(uri)
        self._display_name = display_name
        self._params = params

    @property
    def uri(self) -> URI:
        """The URI, parsed on first read (raises ``ParseError`` if malformed)."""
        uri = self._uri
        if uri is None:
            uri = self._uri = parse_uri(self._uri_text)
        return uri

    @property
    def uri_text(self) -> str:
        """The URI as written."""
        return self._uri_text

    @property
    def display_name(self) -> str | None:
        """The display name, unquoted; ``None`` when absent."""
        return self._display_name

    @property
    def params(self) -> Params:
        """The header parameters (``tag``, ``expires``, ``q``…), not the URI's."""
        return self._params

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (§19.3), or ``None``."""
        return self._params.get("tag")

    def with_tag(self, tag: str) -> NameAddr:
        """A copy with ``tag`` set."""
        if not is_token(tag):
            raise InvalidValue("A tag must be a token")
        return self.with_params(self._params.with_param("tag", tag))

    def with_params(self, params: Params) -> NameAddr:
        """A copy with other header parameters."""
        copy = NameAddr(self._uri_text, self._display_name, params)
        copy._uri = self._uri
        return copy

    def __str__(self) -> str:
        # Always the name-addr form: safe whatever the URI holds (§20.10), and display names
        # are always quoted so an unquoted one received liberally is never propagated.
        display = "" if self._display_name is None else quote(self._display_name) + " "
        return f"{display}<{self._uri_text}>{self._params}"

    def __repr__(self) -> str:
        return (
            f"NameAddr(uri={self._uri_text!r}, display_name={self._display_name!r}, "
            f"params={self._params!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NameAddr):
            return NotImplemented
        return (self._uri_text, self._display_name, self._params) == (
            other._uri_text,
            other._display_name,
            other._params,
        )

    def __hash__(self) -> int:
        return hash((self._uri_text, self._display_name, self._params))


_NO_URI_CHARS_RE = re.compile(r'[\x00-\x20\x7f<>"]')


def parse_name_addr(text: str) -> NameAddr:
    """Parse ``name-addr`` or ``addr-spec`` followed by header parameters (§20.10, §25.1).

    The URI is only checked for characters no URI may hold; it is parsed when first read.
    """
    text = text.strip()
    display: str | None
    if text[:1] == '"':
        display, end = read_quoted(text, 0)
        lt = text.find("<", end)
        if lt < 0 or text[end:lt].strip(" \t"):
            raise ParseError("Display name without <URI>")
        gt = text.find(">", lt)
    else:
        lt = text.find("<")
        semi = text.find(";")
        if lt >= 0 and (semi < 0 or lt < semi):
            display = text[:lt].strip(" \t") or None
            if display is not None and '"' in display:
                raise ParseError("Malformed display name")
            gt = text.find(">", lt)
        else:
            # addr-spec: what follows the first ";" are header parameters (§20.10), and the
            # URI cannot carry headers without <> (RFC 4475 §3.1.2.13).
            if semi < 0:
                uri_text, after = text, ""
            else:
                uri_text, after = text[:semi].rstrip(" \t"), text[semi + 1 :]
            if not uri_text or "?" in uri_text or _NO_URI_CHARS_RE.search(uri_text):
                raise ParseError("Malformed addr-spec")
            if not after:
                return NameAddr(uri_text)
            return NameAddr(uri_text, None, parse_params(after))
    if gt < 0:
        raise ParseError("Unterminated <URI>")
    # Spaces inside <> are not allowed, but unambiguous: ignore them (RFC 4475 §3.1.2.14).
    uri_text = text[lt + 1 : gt].strip(" \t")
    if not uri_text or _NO_URI_CHARS_RE.search(uri_text):
        raise ParseError("Malformed URI in <>")
    after = text[gt + 1 :].lstrip(" \t")
    if not after:
        return NameAddr(uri_text, display)
    if after[0] != ";":
        raise ParseError("Unexpected text after address")
    return NameAddr(uri_text, display, parse_params(after[1:]))


def parse_name_addr_list(lines: Iterable[str]) -> tuple[NameAddr, ...]:
    """Every name-addr of the given header lines (Contact, Route…); empty elements are errors."""
    result: list[NameAddr] = []
    for line in lines:
        for element in split_list(line):
            if not element:
                raise ParseError("Empty list element")
            result.append(parse_name_addr(element))
    return tuple(result)


# -- CSeq ---------------------------------------------------------------------------------

_MAX_CSEQ = 2**32 - 1


@dataclass(frozen=True, slots=True)
class CSeq:
    """The CSeq value: sequence number and method (§20.16)."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


_set_cseq_number = CSeq.__dict__["number"].__set__
_set_cseq_method = CSeq.__dict__["method"].__set__


def parse_cseq(text: str) -> CSeq:
    """Parse ``1*DIGIT LWS Method``; the number must fit in 32 bits (RFC 4475 §3.1.2.4)."""
    parts = text.split()
    if len(parts) != 2:
        raise ParseError("Malformed CSeq")
    number_text, method = parts
    # Length is checked before int(): no conversion of a huge digit string (and no
    # ValueError from Python's int max-digits guard).
    if not (number_text.isascii() and number_text.isdigit()) or len(number_text) > 20:
        raise ParseError("Malformed CSeq")
    number = int(number_text)
    if number > _MAX_CSEQ:
        raise ParseError("CSeq number out of range")
    if not is_token(method):
        raise ParseError("Malformed CSeq method")
    cseq: CSeq = _new(CSeq)
    _set_cseq_number(cseq, number)
    _set_cseq_method(cseq, method)
    return cseq


def parse_max_forwards(text: str) -> int:
    """Parse Max-Forwards, an integer 0-255 (§20.22); leading zeros allowed (``0068``)."""
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or int(value) > 255:
        raise ParseError("Malformed Max-Forwards")
    return int(value)


# -- Authorization ------------------------------------------------------------------------

# Digest parameters written as quoted-string (RFC 3261 §25.1, RFC 2617 §3.2).
DIGEST_QUOTED = frozenset(
    {"username", "realm", "nonce", "uri", "response", "cnonce", "opaque", "domain"}
)


@dataclass(frozen=True, slots=True)
class Auth:
    """Credentials or a challenge: ``scheme`` and its ``auth-param`` list (§25.1).

    ``params`` values are unquoted and unescaped. ``quoted`` names (lower-case) the params
    written as quoted-strings on output; any value that is not a token is quoted regardless.
    """

    scheme: str
    params: tuple[tuple[str, str], ...] = ()
    quoted: frozenset[str] = DIGEST_QUOTED

    def get(self, name: str) -> str | None:
        """The value of parameter ``name`` (case-insensitive), or ``None``."""
        lname = name.lower()
        for key, value in self.params:
            if key.lower() == lname:
                return value
        return None

    def __str__(self) -> str:
        rendered = []
        for name, value in self.params:
            if name.lower() in self.quoted or not is_token(value):
                value = quote(value)
            rendered.append(f"{name}={value}")
        return f"{self.scheme} {', '.join(rendered)}" if rendered else self.scheme

    def __repr__(self) -> str:
        # Never show the values: nonce, response and friends are secrets in logs.
        return f"Auth(scheme={self.scheme!r}, params={[name for name, _ in self.params]!r})"


def parse_auth(text: str) -> Auth:
    """Parse ``scheme auth-param *(COMMA auth-param)`` (§25.1 credentials / challenge)."""
    parts = text.strip().split(None, 1)
    if not parts or not is_token(parts[0]):
        raise ParseError("Malformed authentication scheme")
    params: list[tuple[str, str]] = []
    quoted: set[str] = set()
    for element in split_list(parts[1]) if len(parts) == 2 else ():
        if not element:
            continue
        name, eq, value = element.partition("=")
        name = name.strip()
        value = value.strip()
        if not eq or not is_token(name) or not value:
            raise ParseError("Malformed auth-param")
        if value[0] == '"':
            content, end = read_quoted(value, 0)
            if end != len(value):
                raise ParseError("Malformed auth-param")
            value = content
            quoted.add(name.lower())
        elif not is_token(value):
            raise ParseError("Malformed auth-param")
        params.append((name, value))
    return Auth(parts[0], tuple(params), frozenset(quoted))
