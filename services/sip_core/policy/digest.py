"""SIP digest authentication (RFC 3261 §22, RFC 7616, RFC 8760): nonces and verification.

Sans-I/O and independent of the request type: the caller passes the credentials (one parsed
``Authorization``/``Proxy-Authorization`` value), the method, a user lookup and ``now``, so the
same code authenticates an INVITE (407, ``Proxy-Authenticate``) and a REGISTER (401,
``WWW-Authenticate``).

Nonces (:class:`NonceService`) are stateless to verify: ``base64url(issued-ms ‖ 8 random bytes ‖
HMAC-SHA256(secret, issued-ms ‖ random)[:16])`` with a secret drawn per process. A nonce we did
not issue fails the HMAC (``invalid``); one older than ``lifetime`` is ``stale`` (the client is
re-challenged with ``stale=true`` and retries without asking its user, RFC 7616 §3.3). Replays
are refused by tracking, per nonce still valid, the highest nonce-count (``nc``) accepted: a
request must carry a larger one (RFC 7616 §3.4: the server "SHOULD" check it). Without ``qop``
(RFC 2069 clients) a nonce is good for one request. The tracking table holds only nonces used
within their lifetime, so its size is bounded by request rate times lifetime (and ``max_tracked``).

Challenges offer SHA-256 first, then MD5 (RFC 8760 §2.4: the server lists its preferred
algorithm first), ``qop="auth"`` only. Some deployed devices read only the first challenge and
know only MD5 (sipp 3.6 is one): ``algorithms`` puts MD5 first (or alone) for such a fleet;
verification accepts either whatever the order.

Unknown users are verified against a dummy HA1 so the work (and the answer) is the same as for a
wrong password: a response does not tell which usernames exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from libs.security.digest import verify_response
from libs.security.errors import DigestError
from services.sip_core.sip import Auth

__all__ = [
    "DigestAuthenticator",
    "DigestOutcome",
    "DigestResult",
    "NonceService",
    "NonceState",
    "StoredCredentials",
]

_RANDOM_BYTES = 8
_MAC_BYTES = 16
_NONCE_BYTES = 8 + _RANDOM_BYTES + _MAC_BYTES
_NONCE_CHARS = 43  # base64url of 32 bytes, unpadded
_SUPPORTED = {
    "MD5": "MD5",
    "MD5-SESS": "MD5-sess",
    "SHA-256": "SHA-256",
    "SHA-256-SESS": "SHA-256-sess",
}
#: RFC 8760 §2.4: the preferred algorithm first.
DEFAULT_ALGORITHMS = ("SHA-256", "MD5")
_DUMMY_HA1 = {"MD5": "0" * 32, "SHA-256": "0" * 64}


class NonceState(StrEnum):
    VALID = "valid"
    STALE = "stale"
    INVALID = "invalid"


class NonceService:
    """Issues and checks nonces; remembers nonce-counts to refuse replays.

    ``now`` is any monotonic clock in seconds (the event loop's), the same for issue and check.
    """

    def __init__(
        self,
        *,
        lifetime: float = 30.0,
        secret: bytes | None = None,
        max_tracked: int = 1_000_000,
    ) -> None:
        self.lifetime = lifetime
        self._secret = secret or secrets.token_bytes(32)
        self._max_tracked = max_tracked
        self._counts: dict[str, int] = {}
        self._expiry: deque[tuple[float, str]] = deque()

    def _mac(self, head: bytes) -> bytes:
        return hmac.new(self._secret, head, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, now: float) -> str:
        head = struct.pack(">Q", max(0, int(now * 1000))) + secrets.token_bytes(_RANDOM_BYTES)
        return base64.urlsafe_b64encode(head + self._mac(head)).rstrip(b"=").decode("ascii")

    def issued_at(self, nonce: str) -> float | None:
        """When ``nonce`` was issued by us (seconds), ``None`` if we never issued it."""
        if not isinstance(nonce, str) or len(nonce) != _NONCE_CHARS or not nonce.isascii():
            return None
        try:
            raw = base64.urlsafe_b64decode(nonce + "=")
        except ValueError:
            return None
        if len(raw) != _NONCE_BYTES:
            return None
        head, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(head)):
            return None
        (millis,) = struct.unpack(">Q", head[:8])
        return float(millis) / 1000

    def check(self, nonce: str, now: float) -> NonceState:
        issued = self.issued_at(nonce)
        if issued is None or issued > now + 1.0:
            return NonceState.INVALID
        if now - issued > self.lifetime:
            return NonceState.STALE
        return NonceState.VALID

    def use(self, nonce: str, nc: int | None, now: float) -> bool:
        """Record a use of a valid ``nonce`` with count ``nc`` (``None``: no qop, single use).

        ``False`` for a replay: a count not above the highest seen (or a second use of a nonce
        without qop), or when the table is full (the client is re-challenged).
        """
        self._prune(now)
        count = 0x7FFFFFFF if nc is None else nc
        last = self._counts.get(nonce)
        if last is not None:
            if nc is None or count <= last:
                return False
            self._counts[nonce] = count
            return True
        if len(self._counts) >= self._max_tracked:
            return False
        issued = self.issued_at(nonce)
        self._counts[nonce] = count
        self._expiry.append(((issued if issued is not None else now) + self.lifetime, nonce))
        return True

    def _prune(self, now: float) -> None:
        expiry = self._expiry
        while expiry and expiry[0][0] < now:
            _, nonce = expiry.popleft()
            self._counts.pop(nonce, None)

    @property
    def tracked(self) -> int:
        return len(self._counts)


class StoredCredentials(Protocol):
    """What digest verification needs of a SIP user (``SipUserConfig`` has it)."""

    @property
    def ha1_md5(self) -> str: ...

    @property
    def ha1_sha256(self) -> str: ...


class DigestOutcome(StrEnum):
    OK = "ok"
    MALFORMED = "malformed"
    INVALID_NONCE = "invalid_nonce"  # forged, or from another node / an earlier process
    REPLAYED = "replayed"  # a nonce-count already used
    STALE = "stale"  # right credentials, expired nonce: re-challenge with stale=true
    UNKNOWN_USER = "unknown_user"
    WRONG_REALM = "wrong_realm"
    BAD_CREDENTIALS = "bad_credentials"


@dataclass(frozen=True, slots=True)
class DigestResult:
    outcome: DigestOutcome
    username: str | None = None
    realm: str | None = None
    user: StoredCredentials | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is DigestOutcome.OK


UserLookup = Callable[[str, str], StoredCredentials | None]


class DigestAuthenticator:
    """Challenges and verifies digest credentials for one realm."""

    def __init__(
        self,
        nonces: NonceService,
        realm: str,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
    ) -> None:
        self.nonces = nonces
        self.realm = realm
        self.algorithms = tuple(algorithms)
        unknown = [name for name in self.algorithms if name not in ("SHA-256", "MD5")]
        if unknown or not self.algorithms:
            raise ValueError(f"digest algorithms are SHA-256 and/or MD5, not {unknown}")

    def challenge(
        self, now: float, *, stale: bool = False, header: str = "Proxy-Authenticate"
    ) -> tuple[tuple[str, str], ...]:
        """Challenge headers, one per algorithm in order, sharing one fresh nonce."""
        nonce = self.nonces.issue(now)
        realm = self.realm.replace("\\", "\\\\").replace('"', '\\"')
        tail = ", stale=true" if stale else ""
        return tuple(
            (
                header,
                f'Digest realm="{realm}", nonce="{nonce}", algorithm={algorithm}, qop="auth"{tail}',
            )
            for algorithm in self.algorithms
        )

    def verify(
        self, credentials: Auth, method: str, lookup: UserLookup, now: float
    ) -> DigestResult:
        """Check ``credentials`` for a request of ``method``; never raises for bad input."""
        if credentials.scheme.lower() != "digest":
            return DigestResult(DigestOutcome.MALFORMED)
        get = credentials.get
        username, realm, nonce = get("username"), get("realm"), get("nonce")
        uri, response = get("uri"), get("response")
        if not (username and realm is not None and nonce and uri and response):
            return DigestResult(DigestOutcome.MALFORMED, username, realm)
        algorithm = _SUPPORTED.get((get("algorithm") or "MD5").upper())
        if algorithm is None:
            return DigestResult(DigestOutcome.MALFORMED, username, realm)
        qop, nc_text, cnonce = get("qop"), get("nc"), get("cnonce")
        nc: int | None = None
        if qop is not None:
            if qop.lower() != "auth" or nc_text is None or cnonce is None:
                return DigestResult(DigestOutcome.MALFORMED, username, realm)
            try:
                nc = int(nc_text, 16)
            except ValueError:
                return DigestResult(DigestOutcome.MALFORMED, username, realm)
        state = self.nonces.check(nonce, now)
        if state is NonceState.INVALID:
            return DigestResult(DigestOutcome.INVALID_NONCE, username, realm)
        user = lookup(username, realm) if realm == self.realm else None
        base = "SHA-256" if algorithm.startswith("SHA") else "MD5"
        stored = None
        if user is not None:
            stored = user.ha1_sha256 if base == "SHA-256" else user.ha1_md5
        try:
            right = verify_response(
                stored or _DUMMY_HA1[base],
                response,
                method=method,
                uri=uri,
                nonce=nonce,
                algorithm=algorithm,
                qop=qop,
                nc=nc_text,
                cnonce=cnonce,
            )
        except DigestError:
            return DigestResult(DigestOutcome.MALFORMED, username, realm)
        if realm != self.realm:
            return DigestResult(DigestOutcome.WRONG_REALM, username, realm)
        if user is None or not stored:
            return DigestResult(DigestOutcome.UNKNOWN_USER, username, realm)
        if not right:
            return DigestResult(DigestOutcome.BAD_CREDENTIALS, username, realm)
        if state is NonceState.STALE:
            return DigestResult(DigestOutcome.STALE, username, realm, user)
        if not self.nonces.use(nonce, nc, now):
            return DigestResult(DigestOutcome.REPLAYED, username, realm)
        return DigestResult(DigestOutcome.OK, username, realm, user)
