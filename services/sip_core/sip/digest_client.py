"""Answering a digest challenge as a client (RFC 3261 §22.2-22.3, RFC 2617, RFC 7616, RFC 8760).

Sans-I/O: given a 401/407 response and the credentials, :func:`answer_challenge` returns the
``Authorization``/``Proxy-Authorization`` header lines to add to the re-sent request. The B2BUA
uses it when a carrier challenges our INVITE; the hashing is :mod:`libs.security.digest`'s (the
same code verifies our own callers).

Supported: ``MD5``, ``SHA-256`` (and ``SHA-512-256``) and their ``-sess`` variants, ``qop=auth``
with a fresh random ``cnonce`` and ``nc=00000001`` (each nonce is answered once), and the
RFC 2069 form without ``qop``. ``opaque`` is echoed, ``algorithm`` is echoed as the challenge
wrote it (absent: MD5, left absent). Skipped: ``qop=auth-int`` alone (a challenge offering only
it is not answered), ``userhash`` (optional for the client: the plain username is sent) and
non-digest schemes.

Several challenges: RFC 8760 §2.4 — of the challenges of one realm the client uses the first it
supports (servers list their preferred algorithm first); RFC 3261 §22.3 — every realm challenged
(proxies on the path, each with its own ``Proxy-Authenticate``) gets its own credentials.

The password lives only in :class:`DigestCredentials`, whose ``repr`` hides it; the header
values built here carry only hashes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from libs.security.digest import compute_response, ha1
from libs.security.errors import DigestError
from services.sip_core.sip.errors import ParseError
from services.sip_core.sip.headers import Auth, parse_auth
from services.sip_core.sip.message import Response

__all__ = [
    "ChallengeAnswer",
    "DigestChallenge",
    "DigestCredentials",
    "answer_challenge",
    "authorize",
    "credential_headers",
    "parse_challenges",
]

_CHALLENGE_HEADERS = {401: "WWW-Authenticate", 407: "Proxy-Authenticate"}
_CREDENTIAL_HEADERS = {401: "Authorization", 407: "Proxy-Authorization"}
_BASES = ("MD5", "SHA-256", "SHA-512-256")


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """A username and its clear password, as a client needs them (``repr`` hides the password)."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"DigestCredentials(username={self.username!r}, password=<hidden>)"


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """One supported digest challenge (a ``WWW-Authenticate``/``Proxy-Authenticate`` value)."""

    realm: str
    nonce: str
    #: As written in the challenge (``None``: absent, which means MD5).
    algorithm: str | None = None
    #: ``"auth"`` when offered, ``None`` for the RFC 2069 form.
    qop: str | None = None
    opaque: str | None = None
    stale: bool = False

    def __repr__(self) -> str:  # the nonce is a server secret of sorts: not in logs
        return f"DigestChallenge(realm={self.realm!r}, algorithm={self.algorithm!r})"


def _challenge(auth: Auth) -> DigestChallenge | None:
    """The challenge ``auth`` as one we can answer, or ``None``."""
    if auth.scheme.lower() != "digest":
        return None
    realm, nonce = auth.get("realm"), auth.get("nonce")
    if realm is None or not nonce:
        return None
    algorithm = auth.get("algorithm")
    base = (algorithm or "MD5").upper().removesuffix("-SESS")
    if base not in _BASES:
        return None
    qop_text = auth.get("qop")
    qop: str | None = None
    if qop_text is not None:
        offered = {option.strip().lower() for option in qop_text.split(",")}
        if "auth" not in offered:
            return None  # auth-int only
        qop = "auth"
    stale = (auth.get("stale") or "").lower() == "true"
    return DigestChallenge(realm, nonce, algorithm, qop, auth.get("opaque"), stale)


def parse_challenges(response: Response) -> list[DigestChallenge]:
    """The challenges of a 401/407 we can answer: per realm the first supported, in order.

    Malformed header values are skipped (another may still be usable).
    """
    name = _CHALLENGE_HEADERS.get(response.status_code)
    if name is None:
        return []
    chosen: dict[str, DigestChallenge] = {}
    for value in response.headers.get_all(name):
        try:
            challenge = _challenge(parse_auth(value))
        except ParseError:
            continue
        if challenge is not None and challenge.realm not in chosen:
            chosen[challenge.realm] = challenge
    return list(chosen.values())


def _new_cnonce() -> str:
    return secrets.token_hex(16)


def authorize(
    challenge: DigestChallenge,
    credentials: DigestCredentials,
    *,
    method: str,
    uri: str,
    cnonce: str | None = None,
    nc: int = 1,
) -> Auth:
    """The credentials answering ``challenge`` for a ``method`` request to ``uri``.

    ``cnonce`` defaults to 128 random bits (RFC 7616 §3.4: the client's own nonce). Raises
    :class:`~libs.security.errors.DigestError` for what cannot be computed.
    """
    algorithm = challenge.algorithm or "MD5"
    qop = challenge.qop
    session = algorithm.upper().endswith("-SESS")
    # RFC 2617 §3.2.2: no cnonce (and no nc) unless qop was offered or a -sess algorithm needs it.
    cnonce = (cnonce or _new_cnonce()) if qop is not None or session else None
    nc_text = f"{nc:08x}" if qop is not None else None
    secret = ha1(credentials.username, challenge.realm, credentials.password, algorithm)
    response = compute_response(
        secret,
        method=method,
        uri=uri,
        nonce=challenge.nonce,
        algorithm=algorithm,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
    )
    params: list[tuple[str, str]] = [
        ("username", credentials.username),
        ("realm", challenge.realm),
        ("nonce", challenge.nonce),
        ("uri", uri),
        ("response", response),
    ]
    if challenge.algorithm is not None:
        params.append(("algorithm", challenge.algorithm))
    if cnonce is not None:
        params.append(("cnonce", cnonce))
    if challenge.opaque is not None:
        params.append(("opaque", challenge.opaque))
    if qop is not None and nc_text is not None:
        params.extend((("qop", qop), ("nc", nc_text)))
    return Auth("Digest", tuple(params))


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """What to add to the re-sent request, and whether the server said the nonce was stale."""

    headers: tuple[tuple[str, str], ...]
    stale: bool

    def __repr__(self) -> str:
        return f"ChallengeAnswer(headers={[name for name, _ in self.headers]!r})"


def answer_challenge(
    response: Response,
    credentials: DigestCredentials,
    *,
    method: str,
    uri: str,
    cnonce: Callable[[], str] = _new_cnonce,
) -> ChallengeAnswer | None:
    """Header lines answering the 401/407 ``response``; ``None`` if no challenge is usable."""
    name = _CREDENTIAL_HEADERS.get(response.status_code)
    if name is None:
        return None
    headers: list[tuple[str, str]] = []
    stale = False
    for challenge in parse_challenges(response):
        try:
            auth = authorize(challenge, credentials, method=method, uri=uri, cnonce=cnonce())
        except DigestError:
            continue
        headers.append((name, str(auth)))
        stale = stale or challenge.stale
    if not headers:
        return None
    return ChallengeAnswer(tuple(headers), stale)


def credential_headers() -> Iterable[str]:
    """The header names a re-sent request's earlier credentials are under (to replace them)."""
    return _CREDENTIAL_HEADERS.values()
