"""SIP, SIPS and tel URIs, and every other scheme as an opaque absolute URI.

Implemented:

* RFC 3261 §19.1.1-§19.1.2 and §25.1: ``sip:``/``sips:`` ``user[:password]@host[:port]``,
  ``;uri-parameters`` and ``?headers``, with IPv6 references. User, password, parameter names
  and values and headers are stored **unescaped** (``%HH`` decoded once, never recursively —
  RFC 4475 §3.1.1.3) and escaped again on output with the character sets of §25.1.
  ``@`` ends the userinfo, so ``;`` ``?`` ``/`` in a user part stay in the user part
  (RFC 4475 §3.1.1.9, ``sip:user;par=u%40example.net@example.com``).
* RFC 3966: ``tel:`` numbers with parameters (§5.1); the number is kept as written.
* RFC 3986 §3.1: any other scheme (``isbn:``, ``http:``, ``soap.beep:``) parses as an
  ``AbsoluteURI`` of scheme and opaque part, so a request for it can be answered 416
  (RFC 3261 §8.2.2.1, RFC 4475 §3.3.2) instead of failing to parse.

Skipped: URI comparison (RFC 3261 §19.1.4) — dataclass equality compares the decoded parts and
is stricter than §19.1.4 (parameter order and host case matter). Hostname label syntax is only
checked for its character set. ``tel:`` number syntax (RFC 3966 §3 phonedigit rules) is checked
for its character set only.

Being liberal (RFC 4475 §3.1.1): non-ASCII octets are accepted where escapes should have been
used, and a ``%`` not followed by two hex digits is taken literally. Whitespace, control
characters, ``<``, ``>`` and ``"`` are always rejected: they cannot be part of any URI and
accepting them would let a malformed Request-URI be forwarded (RFC 4475 §3.1.2.7, §3.1.2.8).
"""

from __future__ import annotations

import re
from dataclasses import KW_ONLY, dataclass
from typing import TypeAlias

from services.sip_core.sip.errors import ParseError
from services.sip_core.sip.syntax import EMPTY_PARAMS, Params, escape, unescape

__all__ = ["URI", "AbsoluteURI", "SipURI", "TelURI", "parse_uri"]

_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
# §25.1: user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = & = + $ , ; ? /
_USER_SAFE = re.compile(rf"[{_UNRESERVED}&=+$,;?/]+")
# password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
_PASSWORD_SAFE = re.compile(rf"[{_UNRESERVED}&=+$,]+")
# paramchar = param-unreserved / unreserved / escaped; param-unreserved = [ ] / : & + $
_PARAM_SAFE = re.compile(rf"[{_UNRESERVED}\[\]/:&+$]+")
# hname/hvalue = *( hnv-unreserved / unreserved / escaped ); hnv-unreserved = [ ] / ? : + $
_HEADER_SAFE = re.compile(rf"[{_UNRESERVED}\[\]/?:+$]+")
# tel numbers keep visual separators (RFC 3966 §3): digits, hex for local numbers, * # + - . ( )
_TEL_SAFE = re.compile(r"[0-9A-Fa-f*#+\-.()]+")

_BAD_URI_CHARS_RE = re.compile(r'[\x00-\x20\x7f<>"]')
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")


@dataclass(frozen=True, slots=True)
class SipURI:
    """A ``sip:`` or ``sips:`` URI with its components unescaped."""

    host: str
    user: str | None = None
    _: KW_ONLY
    scheme: str = "sip"
    password: str | None = None
    port: int | None = None
    params: Params = EMPTY_PARAMS
    headers: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(escape(self.user, _USER_SAFE))
            if self.password is not None:
                out += (":", escape(self.password, _PASSWORD_SAFE))
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out += (":", str(self.port))
        for name, value in self.params:
            out += (";", escape(name, _PARAM_SAFE))
            if value is not None:
                out += ("=", escape(value, _PARAM_SAFE))
        if self.headers:
            out.append("?")
            out.append(
                "&".join(
                    f"{escape(name, _HEADER_SAFE)}={escape(value, _HEADER_SAFE)}"
                    for name, value in self.headers
                )
            )
        return "".join(out)

    @property
    def transport(self) -> str | None:
        """The ``transport`` URI parameter, lower-cased (§19.1.1), or ``None``."""
        value = self.params.get("transport")
        return None if value is None else value.lower()

    @property
    def lr(self) -> bool:
        """Whether the URI names a loose router (``;lr``, RFC 3261 §19.1.1)."""
        return "lr" in self.params

    @property
    def maddr(self) -> str | None:
        """The ``maddr`` URI parameter, or ``None``."""
        return self.params.get("maddr")


@dataclass(frozen=True, slots=True)
class TelURI:
    """A ``tel:`` URI (RFC 3966): the number as written, and its parameters."""

    number: str
    params: Params = EMPTY_PARAMS
    scheme: str = "tel"

    def __str__(self) -> str:
        params = "".join(
            f";{name}" if value is None else f";{name}={escape(value, _PARAM_SAFE)}"
            for name, value in self.params
        )
        return f"tel:{self.number}{params}"

    @property
    def is_global(self) -> bool:
        """Whether the number is global (``+`` E.164 form, RFC 3966 §5.1.4)."""
        return self.number.startswith("+")

    @property
    def digits(self) -> str:
        """The number without visual separators (RFC 3966 §5.1.1)."""
        return self.number.translate(_VISUAL_SEPARATORS)


_VISUAL_SEPARATORS = str.maketrans("", "", "-.()")


@dataclass(frozen=True, slots=True)
class AbsoluteURI:
    """A URI of a scheme the codec does not interpret: scheme and opaque rest."""

    scheme: str
    opaque: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.opaque}"


URI: TypeAlias = SipURI | TelURI | AbsoluteURI


def parse_uri(text: str) -> URI:
    """Parse a URI; raise ``ParseError`` if it is not one (RFC 3261 §25.1, RFC 3986 §3)."""
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if scheme == "sip" or scheme == "sips":
        return _parse_sip(scheme, rest)
    if not colon or not rest or _BAD_URI_CHARS_RE.search(rest) or not scheme:
        raise ParseError("Malformed URI")
    if scheme == "tel":
        return _parse_tel(rest)
    if _SCHEME_RE.fullmatch(scheme) is None:
        raise ParseError("Malformed URI scheme")
    return AbsoluteURI(scheme, rest)


# After "sip:": [userinfo "@"] host [":" port] [";" params] ["?" headers]. The userinfo ends at
# the first "@" (neither user nor password may hold one unescaped), so ";", "?" and "/" in a
# user part stay there. Each part excludes the characters no URI may hold.
_SIP_REST_RE = re.compile(
    r'(?:([^@\x00-\x20\x7f<>"]*)@)?'
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._]+)"
    r"(?::([0-9]{1,5}))?"
    r'(?:;([^?\x00-\x20\x7f<>"]*))?'
    r'(?:\?([^\x00-\x20\x7f<>"]*))?'
)


def _parse_sip(scheme: str, rest: str) -> SipURI:
    match = _SIP_REST_RE.fullmatch(rest)
    if match is None:
        raise ParseError("Malformed SIP URI")
    userinfo, host, port_text, params_text, headers_text = match.groups()
    user: str | None = None
    password: str | None = None
    escaped = "%" in rest
    if userinfo is not None:
        user, colon, password_text = userinfo.partition(":")
        if not user:
            raise ParseError("Malformed URI user")
        if colon:
            password = unescape(password_text) if escaped else password_text
        if escaped:
            user = unescape(user)
    port: int | None = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535:
            raise ParseError("Malformed port")
    params = EMPTY_PARAMS if params_text is None else _parse_uri_params(params_text, escaped)
    headers = () if headers_text is None else _parse_uri_headers(headers_text)
    return _new_sip_uri(host, user, scheme, password, port, params, headers)


_new = object.__new__
_set_host = SipURI.__dict__["host"].__set__
_set_user = SipURI.__dict__["user"].__set__
_set_scheme = SipURI.__dict__["scheme"].__set__
_set_password = SipURI.__dict__["password"].__set__
_set_port = SipURI.__dict__["port"].__set__
_set_params = SipURI.__dict__["params"].__set__
_set_headers = SipURI.__dict__["headers"].__set__


def _new_sip_uri(
    host: str,
    user: str | None,
    scheme: str,
    password: str | None,
    port: int | None,
    params: Params,
    headers: tuple[tuple[str, str], ...],
) -> SipURI:
    # The parser's constructor: a frozen dataclass's __init__ costs three times as much
    # (object.__setattr__ per field), and every message carries several URIs.
    uri: SipURI = _new(SipURI)
    _set_host(uri, host)
    _set_user(uri, user)
    _set_scheme(uri, scheme)
    _set_password(uri, password)
    _set_port(uri, port)
    _set_params(uri, params)
    _set_headers(uri, headers)
    return uri


def _parse_uri_params(text: str, escaped: bool = True) -> Params:
    items: list[tuple[str, str | None]] = []
    for part in text.split(";"):
        name, eq, value = part.partition("=")
        if not name or (eq and not value):
            raise ParseError("Malformed URI parameter")
        if escaped:
            items.append((unescape(name), unescape(value) if eq else None))
        else:
            items.append((name, value if eq else None))
    return Params(items)


def _parse_uri_headers(text: str) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    for part in text.split("&"):
        name, eq, value = part.partition("=")
        if not name or not eq:
            raise ParseError("Malformed URI header")
        headers.append((unescape(name), unescape(value)))
    return tuple(headers)


def _parse_tel(rest: str) -> TelURI:
    number, semi, params_text = rest.partition(";")
    if _TEL_SAFE.fullmatch(number) is None:
        raise ParseError("Malformed tel URI")
    params = _parse_uri_params(params_text) if semi else EMPTY_PARAMS
    return TelURI(number, params)
