"""API credentials: opaque random tokens (API keys, refresh tokens) and signed access tokens.

**Opaque tokens** look like ``tdm_live_<lookup id>_<secret>``. The plaintext is shown once;
the database keeps the lookup id (indexed, to find the row without scanning) and a SHA-256 of
the whole token. :func:`parse_token` gets the lookup id from a presented token,
:func:`verify_token` compares its hash in constant time.

**Access tokens** are short-lived JWS compact serialisations (RFC 7515) of a JWT claim set
(RFC 7519), signed with HMAC-SHA256 (``alg`` ``HS256``), ``kid`` in the header naming the
signing key for rotation. Any JWT tool can read them; only this module's rules accept them:
``alg`` must be ``HS256`` (the ``alg`` of a token is never trusted to choose the algorithm),
no ``crit``, no unknown header fields, no duplicate JSON keys, and the claims ``sub``, ``kind``,
``scopes``, ``iat``, ``exp``, ``jti`` (and optional ``tenant``) must be present and well typed.
Written here rather than through a JWT library: HS256 over two JSON objects is a few lines of
:mod:`hmac`, and owning them keeps the accepted surface exactly this small.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NoReturn

from libs.security._encoding import b64url_decode, b64url_encode
from libs.security._keys import KeyRingBase, SecretKey
from libs.security.errors import ConfigurationError, TokenExpired, TokenInvalid

__all__ = [
    "AccessClaims",
    "NewToken",
    "PrincipalKind",
    "SigningKey",
    "SigningKeyRing",
    "TokenParts",
    "decode_access_token",
    "hash_token",
    "issue_access_token",
    "new_token",
    "parse_token",
    "verify_token",
]

# --- opaque tokens -------------------------------------------------------------------------

_ALPHANUMERIC = string.ascii_letters + string.digits  # no "_": it separates the parts
_LOOKUP_ID_CHARS = 16  # about 95 bits: unique without coordination, not a secret
_SECRET_CHARS = 43  # 43 x log2(62) = 256.1 bits
_PREFIX = re.compile(r"[a-z][a-z0-9]{0,15}(?:_[a-z][a-z0-9]{0,15}){0,3}")
_OPAQUE = re.compile(
    r"(?P<prefix>[a-z][a-z0-9_]{0,70})_"
    r"(?P<lookup>[A-Za-z0-9]{" + str(_LOOKUP_ID_CHARS) + r"})_"
    r"(?P<secret>[A-Za-z0-9]{" + str(_SECRET_CHARS) + r"})"
)
_TOKEN_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True, repr=False)
class NewToken:
    """A freshly made opaque token.

    ``plaintext`` goes to the user once; ``lookup_id`` and ``token_hash`` go to the database.
    ``repr`` hides the plaintext.
    """

    plaintext: str
    prefix: str
    lookup_id: str
    token_hash: str

    def __repr__(self) -> str:
        return f"NewToken(prefix={self.prefix!r}, lookup_id={self.lookup_id!r}, plaintext=<hidden>)"


@dataclass(frozen=True, slots=True)
class TokenParts:
    """The non-secret parts of a presented opaque token."""

    prefix: str
    lookup_id: str


def _random_alphanumeric(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def hash_token(plaintext: str) -> str:
    """The hex SHA-256 of an opaque token: what the database stores.

    SHA-256 without salt or stretching is the right tool here, unlike for passwords: the secret
    part has 256 bits from a CSPRNG, so no dictionary or brute force can find it from its hash,
    and no two tokens share a hash (a salt defends against neither), while a slow hash would
    add tens of milliseconds of CPU to every API request for no gain.
    """
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


def new_token(prefix: str = "tdm_live") -> NewToken:
    """Make an opaque token ``<prefix>_<lookup id>_<secret>`` with 256 random secret bits.

    ``prefix`` is 1-4 ``_``-joined lower-case words (``tdm_live``, ``tdm_refresh``): it tells
    people and secret scanners what the string is.
    """
    if not isinstance(prefix, str) or _PREFIX.fullmatch(prefix) is None:
        raise ConfigurationError("a token prefix is 1-4 lower-case words joined by '_'")
    lookup_id = _random_alphanumeric(_LOOKUP_ID_CHARS)
    plaintext = f"{prefix}_{lookup_id}_{_random_alphanumeric(_SECRET_CHARS)}"
    return NewToken(
        plaintext=plaintext, prefix=prefix, lookup_id=lookup_id, token_hash=hash_token(plaintext)
    )


def parse_token(plaintext: str) -> TokenParts | None:
    """Split a presented opaque token into prefix and lookup id; ``None`` if it is malformed."""
    if not isinstance(plaintext, str) or len(plaintext) > 256:
        return None
    match = _OPAQUE.fullmatch(plaintext)
    if match is None or _PREFIX.fullmatch(match["prefix"]) is None:
        return None
    return TokenParts(prefix=match["prefix"], lookup_id=match["lookup"])


def verify_token(plaintext: str, stored_hash: str) -> bool:
    """True if ``plaintext`` is well formed and hashes to ``stored_hash`` (constant-time)."""
    if parse_token(plaintext) is None or not isinstance(stored_hash, str):
        return False
    if _TOKEN_HASH.fullmatch(stored_hash) is None:
        return False
    return hmac.compare_digest(hash_token(plaintext), stored_hash)


# --- signed access tokens ------------------------------------------------------------------

_MAX_ACCESS_TOKEN_CHARS = 8192
_MAX_TTL_SECONDS = 24 * 3600
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")  # RFC 6749 §3.3 scope-token
_HEADER_KEYS = frozenset({"alg", "kid", "typ"})
_CLAIM_KEYS = frozenset({"sub", "kind", "scopes", "iat", "exp", "jti", "tenant"})


class PrincipalKind(StrEnum):
    """Who a token speaks for: an operator (switch_api) or a customer user (customer_api)."""

    OPERATOR = "operator"
    CUSTOMER = "customer"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class SigningKey(SecretKey):
    """An HMAC-SHA256 signing key: an id (the token's ``kid``) and 32-1024 secret bytes."""


class SigningKeyRing(KeyRingBase[SigningKey]):
    """The current signing key (for new tokens) and older ones (still accepted)."""

    __slots__ = ()

    @classmethod
    def _key_from_base64(cls, key_id: str, text: str) -> SigningKey:
        return SigningKey.from_base64(key_id, text)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified claims of an access token.

    ``tenant`` is the customer account a customer token is confined to (``None`` for
    operators); ``iat`` and ``exp`` are Unix seconds.
    """

    sub: str
    kind: PrincipalKind
    scopes: frozenset[str]
    iat: int
    exp: int
    jti: str
    tenant: str | None = None


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode()


def _sign(key: SigningKey, signing_input: bytes) -> bytes:
    return hmac.new(key.secret, signing_input, hashlib.sha256).digest()


def issue_access_token(
    keys: SigningKeyRing,
    *,
    sub: str,
    kind: PrincipalKind,
    scopes: Iterable[str],
    now: float,
    ttl: int = 900,
    tenant: str | None = None,
) -> str:
    """Sign an access token for ``sub`` valid from ``now`` for ``ttl`` seconds (at most a day).

    Signed with the ring's current key. ``jti`` is 128 random bits, for revocation lists.
    """
    if not isinstance(sub, str) or not 1 <= len(sub) <= 256:
        raise ConfigurationError("sub must be a string of 1-256 characters")
    if tenant is not None and (not isinstance(tenant, str) or not 1 <= len(tenant) <= 256):
        raise ConfigurationError("tenant must be None or a string of 1-256 characters")
    scope_set = frozenset(scopes)
    if any(not isinstance(s, str) or _SCOPE.fullmatch(s) is None for s in scope_set):
        raise ConfigurationError("every scope must be 1-128 printable ASCII characters, no space")
    if not isinstance(ttl, int) or not 1 <= ttl <= _MAX_TTL_SECONDS:
        raise ConfigurationError(f"ttl must be 1-{_MAX_TTL_SECONDS} seconds")
    key = keys.current
    iat = int(now)
    claims: dict[str, Any] = {
        "sub": sub,
        "kind": PrincipalKind(kind).value,
        "scopes": sorted(scope_set),
        "iat": iat,
        "exp": iat + ttl,
        "jti": secrets.token_urlsafe(16),
    }
    if tenant is not None:
        claims["tenant"] = tenant
    header = b64url_encode(_json({"alg": "HS256", "kid": key.key_id, "typ": "JWT"}))
    payload = b64url_encode(_json(claims))
    signing_input = f"{header}.{payload}".encode("ascii")
    return f"{header}.{payload}.{b64url_encode(_sign(key, signing_input))}"


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise TokenInvalid("duplicate JSON member")
        result[name] = value
    return result


def _reject_constant(name: str) -> NoReturn:
    raise TokenInvalid("non-finite number in JSON")


def _load_object(segment: str) -> dict[str, Any]:
    raw = b64url_decode(segment)
    if raw is None:
        raise TokenInvalid("malformed token")
    try:
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise TokenInvalid("malformed token") from None
    if not isinstance(value, dict):
        raise TokenInvalid("malformed token")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _claims(payload: dict[str, Any]) -> AccessClaims:
    if not payload.keys() <= _CLAIM_KEYS or not (_CLAIM_KEYS - {"tenant"}) <= payload.keys():
        raise TokenInvalid("unexpected or missing claims")
    sub, kind, scopes, iat, exp, jti = (
        payload["sub"],
        payload["kind"],
        payload["scopes"],
        payload["iat"],
        payload["exp"],
        payload["jti"],
    )
    tenant = payload.get("tenant")
    if not isinstance(sub, str) or not sub or not isinstance(jti, str) or not jti:
        raise TokenInvalid("bad sub or jti claim")
    if kind not in {k.value for k in PrincipalKind}:
        raise TokenInvalid("bad kind claim")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise TokenInvalid("bad scopes claim")
    if not _is_int(iat) or not _is_int(exp) or exp <= iat:
        raise TokenInvalid("bad iat or exp claim")
    if tenant is not None and (not isinstance(tenant, str) or not tenant):
        raise TokenInvalid("bad tenant claim")
    return AccessClaims(
        sub=sub,
        kind=PrincipalKind(kind),
        scopes=frozenset(scopes),
        iat=iat,
        exp=exp,
        jti=jti,
        tenant=tenant,
    )


def decode_access_token(
    keys: SigningKeyRing, token: str, *, now: float, leeway: float = 0.0
) -> AccessClaims:
    """Verify ``token`` and return its claims.

    Raises :class:`TokenInvalid` if it is malformed, not ``HS256``, signed with a key the ring
    lacks, wrongly signed, issued more than ``leeway`` seconds in the future, or carries bad
    claims; :class:`TokenExpired` if it is authentic but ``now >= exp + leeway``. The signature
    is checked first, so only authentic tokens are ever reported as expired.
    """
    if not isinstance(token, str) or len(token) > _MAX_ACCESS_TOKEN_CHARS or not token.isascii():
        raise TokenInvalid("malformed token")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenInvalid("malformed token")
    header_segment, payload_segment, signature_segment = parts
    header = _load_object(header_segment)
    if not header.keys() <= _HEADER_KEYS or header.get("alg") != "HS256":
        raise TokenInvalid("unsupported token header")
    if header.get("typ", "JWT") != "JWT":
        raise TokenInvalid("unsupported token header")
    key_id = header.get("kid")
    key = keys.get(key_id) if isinstance(key_id, str) else None
    if key is None:
        raise TokenInvalid("unknown signing key id")
    signature = b64url_decode(signature_segment)
    expected = _sign(key, f"{header_segment}.{payload_segment}".encode("ascii"))
    if signature is None or not hmac.compare_digest(signature, expected):
        raise TokenInvalid("bad signature")
    claims = _claims(_load_object(payload_segment))
    if claims.iat > now + leeway:
        raise TokenInvalid("token issued in the future")
    if now >= claims.exp + leeway:
        raise TokenExpired("token expired")
    return claims
