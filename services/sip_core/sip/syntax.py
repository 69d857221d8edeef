"""Lexical pieces shared by the header and URI parsers (RFC 3261 §25.1).

Implemented:

* ``token``, ``quoted-string`` with ``quoted-pair`` (§25.1), applied to header values that were
  already unfolded (§7.3.1: folding is replaced by a single SP before any of this runs).
* Comma-separated header field lists (§7.3.1) split outside quoted strings and ``<...>``.
* ``generic-param`` lists (``;name=value``, §25.1) with LWS around ``;`` and ``=``.
* ``escaped`` (``%HH``) for the components of SIP/SIPS/tel URIs (§19.1.2, §25.1): decoded once
  (never recursively, RFC 4475 §3.1.1.3) and re-encoded on output.

Skipped: comments (``( ... )``) are never interpreted — the header fields that may carry them
(Server, User-Agent, Warning, Via comments) are kept opaque. RFC 2047 encoded words are not
decoded. Empty list elements are tolerated by ``split_list`` (callers that need strict
``1#element`` lists, such as Via and Contact, reject them).

All scanning is linear: the regular expressions here are single character classes or fixed
sequences, with no nested quantifiers to backtrack on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from services.sip_core.sip.errors import InvalidValue, ParseError

__all__ = [
    "Params",
    "is_token",
    "parse_params",
    "quote",
    "read_quoted",
    "split_list",
    "unquote",
]

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")  (§25.1)
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
# One generic-param with the LWS around it. Token, value and separator characters are
# disjoint sets, so matching is linear (no backtracking between alternatives).
_PARAM = (
    r"[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*"
    r"""(?:=[ \t]*([A-Za-z0-9\-.!%*_+`'~:\[\]]+|"(?:[^"\\]|\\.)*")[ \t]*)?"""
)
_PARAMS_RE = re.compile(rf"{_PARAM}(?:;{_PARAM})*", re.DOTALL)
# The same without LWS and quoted-strings (a subset of what _PARAMS_RE accepts).
_SIMPLE_PARAM = r"[A-Za-z0-9\-.!%*_+`'~]+(?:=[A-Za-z0-9\-.!%*_+`'~:\[\]]+)?"
_SIMPLE_PARAMS_RE = re.compile(rf"{_SIMPLE_PARAM}(?:;{_SIMPLE_PARAM})*")
_PARAM_ITER_RE = re.compile(rf"{_PARAM}(?:;|\Z)", re.DOTALL)
_LIST_SPECIAL_RE = re.compile(r'[",<]')
_ESCAPED_RUN_RE = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
# Characters a quoted-string cannot hold as qdtext and must write as quoted-pair (§25.1).
_NEEDS_PAIR_RE = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f"\\]')


def is_token(text: str) -> bool:
    """Whether ``text`` is a non-empty RFC 3261 ``token``."""
    return _TOKEN_RE.fullmatch(text) is not None


def read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read the quoted-string opening at ``text[start]``; return its content and the end index.

    quoted-pairs are resolved (``\\"`` → ``"``); the index returned is just past the closing
    quote. Linear: each character is looked at once, however many backslashes there are.
    """
    parts: list[str] = []
    i = start + 1
    close = text.find('"', i)
    while True:
        if close < 0:
            raise ParseError("Unterminated quoted-string")
        backslash = text.find("\\", i, close)
        if backslash < 0:
            parts.append(text[i:close])
            return "".join(parts), close + 1
        # backslash < close, so the escaped character exists (it may be the '"' at close).
        parts.append(text[i:backslash])
        parts.append(text[backslash + 1])
        i = backslash + 2
        if i > close:
            close = text.find('"', i)


def _skip_quoted(text: str, start: int) -> int:
    """Index just past the quoted-string opening at ``text[start]``."""
    i = start + 1
    close = text.find('"', i)
    while True:
        if close < 0:
            raise ParseError("Unterminated quoted-string")
        backslash = text.find("\\", i, close)
        if backslash < 0:
            return close + 1
        i = backslash + 2
        if i > close:
            close = text.find('"', i)


def unquote(value: str) -> str:
    """The content of ``value`` if it is a quoted-string, else ``value`` unchanged."""
    if value[:1] == '"':
        content, end = read_quoted(value, 0)
        if end == len(value):
            return content
    return value


def quote(text: str) -> str:
    """``text`` as a quoted-string, using quoted-pair where qdtext cannot hold a character."""
    if "\r" in text or "\n" in text:
        # No quoted-pair exists for CR or LF (§25.1): they can never be put in a header.
        raise InvalidValue("CR and LF cannot appear in a quoted-string")
    if _NEEDS_PAIR_RE.search(text):
        text = _NEEDS_PAIR_RE.sub(lambda m: "\\" + m.group(), text)
    return f'"{text}"'


def split_list(value: str) -> list[str]:
    """Split a header field value on the commas that separate list elements (§7.3.1).

    Commas inside quoted strings and ``<...>`` are not separators. Elements are stripped of
    LWS; empty elements are kept (as ``""``) so that strict callers can reject them.
    """
    if '"' not in value and "<" not in value:
        return [part.strip() for part in value.split(",")]
    parts: list[str] = []
    start = i = 0
    while True:
        match = _LIST_SPECIAL_RE.search(value, i)
        if match is None:
            break
        j = match.start()
        char = value[j]
        if char == ",":
            parts.append(value[start:j].strip())
            start = i = j + 1
        elif char == '"':
            i = _skip_quoted(value, j)
        else:
            close = value.find(">", j + 1)
            if close < 0:
                raise ParseError("Unbalanced '<' in header value")
            i = close + 1
    parts.append(value[start:].strip())
    return parts


class Params:
    """An ordered, immutable list of ``;name[=value]`` parameters.

    Names compare case-insensitively (§7.3.1); their case is kept for output. Values are kept
    as written (a quoted-string keeps its quotes), except in URIs where ``SipURI`` stores them
    unescaped. A parameter without a value (``;lr``) has value ``None``.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str | None]] = ()) -> None:
        self._items: tuple[tuple[str, str | None], ...] = tuple(items)

    def get(self, name: str) -> str | None:
        """The value of the first parameter called ``name``; ``None`` if absent or valueless."""
        lname = name.lower()
        for key, value in self._items:
            # ``key == name`` first: parameters are nearly always written as asked for.
            if key == name or key.lower() == lname:
                return value
        return None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        lname = name.lower()
        for key, _ in self._items:  # noqa: SIM110 - any() over a generator costs more
            if key == name or key.lower() == lname:
                return True
        return False

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Params):
            return NotImplemented
        return self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Params({list(self._items)!r})"

    def __str__(self) -> str:
        return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self._items)

    def with_param(self, name: str, value: str | None = None) -> Params:
        """A copy where ``name`` has ``value``: replaced in place if present, else appended."""
        lname = name.lower()
        items = list(self._items)
        for index, (key, _) in enumerate(items):
            if key.lower() == lname:
                items[index] = (key, value)
                return Params(items)
        items.append((name, value))
        return Params(items)

    def without(self, name: str) -> Params:
        """A copy without any parameter called ``name``."""
        lname = name.lower()
        return Params(item for item in self._items if item[0].lower() != lname)


EMPTY_PARAMS = Params()


def parse_params(text: str) -> Params:
    """Parse ``name[=value]`` parameters separated by ``;`` (the text after the first ``;``).

    gen-value must be a token, a host or a quoted-string (§25.1); LWS may surround ``;`` and
    ``=`` (§7.3.1); an empty parameter (``;;``) is an error, as RFC 4475 §3.1.2.1 expects.
    """
    params: Params = object.__new__(Params)  # the tuple is built here: no second copy
    if _SIMPLE_PARAMS_RE.fullmatch(text) is not None:
        # The usual case (tag, branch, rport…): no LWS and no quoted-string, so ";" and "="
        # can only be separators — splitting is twice as fast as the general pattern.
        items = []
        for part in text.split(";"):
            name, _, value = part.partition("=")
            items.append((name, value or None))
        params._items = tuple(items)
        return params
    if _PARAMS_RE.fullmatch(text) is None:
        raise ParseError("Malformed parameter")
    params._items = tuple([(name, value or None) for name, value in _PARAM_ITER_RE.findall(text)])
    return params


def unescape(text: str) -> str:
    """Decode ``%HH`` escapes once (§19.1.2); octets that are not UTF-8 survive as surrogates.

    A ``%`` not followed by two hex digits is left as it is (liberal: it cannot be misread).
    """
    if "%" not in text:
        return text
    return _ESCAPED_RUN_RE.sub(
        lambda m: bytes.fromhex(m.group().replace("%", "")).decode("utf-8", "surrogateescape"),
        text,
    )


def escape(text: str, safe: re.Pattern[str]) -> str:
    """``%HH``-encode every character of ``text`` that ``safe`` (a one-character class) rejects."""
    if safe.fullmatch(text) is not None or not text:
        return text
    out: list[str] = []
    for char in text:
        if safe.fullmatch(char) is not None:
            out.append(char)
            continue
        try:
            octets = char.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise InvalidValue("Character cannot be encoded in a URI") from None
        out.extend(f"%{octet:02X}" for octet in octets)
    return "".join(out)
