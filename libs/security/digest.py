"""SIP digest authentication helpers: RFC 2617 §3.2.2, RFC 7616 §3.4, RFC 8760 §2.

Implemented: the ``MD5``, ``SHA-256`` and ``SHA-512-256`` algorithms and their ``-sess``
variants (RFC 7616 §3.4.2), ``qop=auth`` (RFC 7616 §3.4.1) and the RFC 2069 form without qop
that old SIP devices still send (RFC 2617 §3.2.2.1). Skipped: ``qop=auth-int`` (needs the body
hash; SIP devices practically never use it), ``userhash`` and ``charset`` (RFC 7616 §3.4.4):
names and passwords are encoded as UTF-8.

Credentials are stored only as HA1 = H(username ":" realm ":" password), so a SIP password
cannot be read back; keep one HA1 per algorithm the account may use. Nonce issuing and checking
(freshness, nc replay) is the SIP core's job; these helpers are pure functions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

from libs.security.errors import DigestError

__all__ = ["ALGORITHMS", "compute_response", "ha1", "verify_response"]

_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
    "SHA-512-256": lambda data: hashlib.new("sha512_256", data).hexdigest(),
}
_HEX_LENGTH = {"MD5": 32, "SHA-256": 64, "SHA-512-256": 64}
ALGORITHMS = frozenset({*_HASHES, *(f"{name}-sess" for name in _HASHES)})
"""Every ``algorithm`` value understood (compared case-insensitively)."""

_NC = re.compile(r"[0-9a-fA-F]{8}")
_HEX = re.compile(r"[0-9a-fA-F]+")


def _split_algorithm(algorithm: str) -> tuple[str, bool]:
    """``("SHA-256", True)`` for ``"sha-256-sess"``; :class:`DigestError` if unsupported."""
    upper = algorithm.upper() if isinstance(algorithm, str) else ""
    session = upper.endswith("-SESS")
    base = upper.removesuffix("-SESS")
    if base not in _HASHES:
        raise DigestError("unsupported digest algorithm")
    return base, session


def _h(base: str, *parts: str) -> str:
    return _HASHES[base](":".join(parts).encode("utf-8", "surrogatepass"))


def ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """HA1 = H(username:realm:password) in lower-case hex: the only form a SIP secret is stored in.

    For a ``-sess`` algorithm this is the same value as for its base algorithm; the session
    part is mixed in per request by :func:`compute_response`.
    """
    base, _ = _split_algorithm(algorithm)
    return _h(base, username, realm, password)


def compute_response(
    ha1: str,
    *,
    method: str,
    uri: str,
    nonce: str,
    algorithm: str = "MD5",
    qop: str | None = "auth",
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The expected ``response`` value, in lower-case hex.

    With ``qop="auth"``: KD(HA1, nonce:nc:cnonce:qop:HA2) with HA2 = H(method:uri).
    With ``qop=None``: H(HA1:nonce:HA2). ``-sess`` algorithms use H(HA1:nonce:cnonce) as HA1.
    Raises :class:`DigestError` for an unsupported ``algorithm`` or ``qop``, an HA1 that is
    not hex of that algorithm's length, or missing/malformed ``nc``/``cnonce``.
    """
    base, session = _split_algorithm(algorithm)
    if not isinstance(ha1, str) or _HEX.fullmatch(ha1) is None or len(ha1) != _HEX_LENGTH[base]:
        raise DigestError("HA1 is not a hex digest of the chosen algorithm")
    secret = ha1.lower()
    ha2 = _h(base, method, uri)
    if qop is None:
        if session:
            if not cnonce:
                raise DigestError("-sess algorithms need a cnonce")
            secret = _h(base, secret, nonce, cnonce)
        return _h(base, secret, nonce, ha2)
    if not isinstance(qop, str) or qop.lower() != "auth":
        raise DigestError("unsupported qop (only 'auth')")
    if nc is None or _NC.fullmatch(nc) is None:
        raise DigestError("qop=auth needs nc as 8 hex digits")
    if not cnonce:
        raise DigestError("qop=auth needs a cnonce")
    if session:
        secret = _h(base, secret, nonce, cnonce)
    return _h(base, secret, nonce, nc, cnonce, "auth", ha2)


def verify_response(
    ha1: str,
    response: str,
    *,
    method: str,
    uri: str,
    nonce: str,
    algorithm: str = "MD5",
    qop: str | None = "auth",
    nc: str | None = None,
    cnonce: str | None = None,
) -> bool:
    """True if the client's ``response`` is right (constant-time, hex case-insensitive).

    Raises :class:`DigestError` in the same cases as :func:`compute_response`.
    """
    expected = compute_response(
        ha1, method=method, uri=uri, nonce=nonce, algorithm=algorithm, qop=qop, nc=nc, cnonce=cnonce
    )
    if not isinstance(response, str) or not response.isascii():
        return False
    return hmac.compare_digest(expected.encode("ascii"), response.lower().encode("ascii"))
