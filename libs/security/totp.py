"""Two-factor authentication: RFC 6238 TOTP codes and single-use recovery codes.

TOTP parameters are the ones every authenticator app supports: HMAC-SHA1, 6 digits, 30-second
steps from the Unix epoch (RFC 6238 §4), with 160-bit secrets (RFC 4226 §4 recommends 160).
A code is accepted in the current step and one step either side (RFC 6238 §5.2 allows
"at most one time step" of network delay and clock drift). RFC 6238 §5.2 also says a verifier
MUST NOT accept the second attempt of the same OTP: :func:`verify` returns the matched time step,
the caller stores it, and passes it back as ``last_used_step`` next time; any step at or before
it is refused, which also refuses older codes once a newer one was used.

Recovery codes are 16 characters from Crockford's base32 (80 random bits), shown once and
stored as SHA-256 digests. They are checked in constant time over the whole list, and a code is
used up when the caller deletes the digest :func:`match_recovery_code` pointed at.

The seeds themselves are secrets: store them encrypted with :mod:`libs.security.crypto`.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import io
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import pyotp
import segno

from libs.security.errors import TotpError

__all__ = [
    "DIGITS",
    "INTERVAL",
    "RecoveryCodes",
    "generate_recovery_codes",
    "match_recovery_code",
    "new_secret",
    "provisioning_qr_png",
    "provisioning_uri",
    "verify",
]

DIGITS = 6
INTERVAL = 30
VALID_WINDOW = 1  # steps accepted either side of the current one

_CODE = re.compile(r"[0-9]{6}")
_BASE32_SECRET = re.compile(r"[A-Z2-7]{16,128}")

# Crockford's base32: no I, L, O, U, so that codes read aloud or copied by hand survive.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_READS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_RECOVERY_CHARS = 16  # 16 x 5 bits = 80 bits
_RECOVERY_GROUP = 4
_RECOVERY_LABEL = b"tandem.recovery-code.v1\x00"
_RECOVERY_DIGEST = re.compile(r"[0-9a-f]{64}")


def new_secret() -> str:
    """Return a new random TOTP secret: 32 base32 characters (160 bits)."""
    return pyotp.random_base32(length=32)


def _totp(secret: str) -> pyotp.TOTP:
    if not isinstance(secret, str) or _BASE32_SECRET.fullmatch(secret) is None:
        raise TotpError("the TOTP secret is not 16-128 upper-case base32 characters")
    try:
        return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    except (binascii.Error, ValueError):
        raise TotpError("the TOTP secret is not valid base32") from None


def provisioning_uri(secret: str, account_name: str, issuer: str = "Tandem") -> str:
    """Return the ``otpauth://totp/...`` URI an authenticator app enrols from (as a QR code).

    The URI contains the secret: show it to the user once, never log it.
    """
    return _totp(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def provisioning_qr_png(uri: str, *, scale: int = 5) -> bytes:
    """Return a PNG image of a QR code for ``uri`` (error correction level M, 4-module border)."""
    qr = segno.make(uri, error="m", micro=False)
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def time_step(now: float) -> int:
    """The RFC 6238 time step ``T = floor(now / 30)`` for Unix time ``now``."""
    return int(now // INTERVAL)


def verify(secret: str, code: str, *, now: float, last_used_step: int | None) -> int | None:
    """Check a 6-digit ``code``; return the time step it matched, or ``None``.

    Accepts the steps ``now``'s step - 1 to + 1, except any step ``<= last_used_step``
    (a replay, or an older code after a newer one was used). The caller stores the returned
    step as the new ``last_used_step``. Spaces in ``code`` are ignored; anything but 6 ASCII
    digits is refused. Raises :class:`TotpError` if ``secret`` is not valid base32.
    """
    totp = _totp(secret)
    if not isinstance(code, str):
        return None
    candidate = code.replace(" ", "")
    if _CODE.fullmatch(candidate) is None:
        return None
    current = time_step(now)
    matched: int | None = None
    # Every step in the window is computed and compared, so timing does not reveal which one
    # matched; the latest match wins.
    for step in range(max(current - VALID_WINDOW, 0), current + VALID_WINDOW + 1):
        try:
            expected = totp.generate_otp(step)
        except (binascii.Error, ValueError):
            raise TotpError("the TOTP secret is not valid base32") from None
        if hmac.compare_digest(expected.encode("ascii"), candidate.encode("ascii")) and (
            last_used_step is None or step > last_used_step
        ):
            matched = step
    return matched


@dataclass(frozen=True, slots=True, repr=False)
class RecoveryCodes:
    """Freshly generated recovery codes: ``codes`` to show once, ``hashes`` to store.

    ``hashes[i]`` is the digest of ``codes[i]``. ``repr`` hides the codes.
    """

    codes: tuple[str, ...]
    hashes: tuple[str, ...]

    def __repr__(self) -> str:
        return f"RecoveryCodes(<{len(self.codes)} codes hidden>)"


def _normalize_recovery_code(code: str) -> str | None:
    compact = code.replace("-", "").replace(" ", "").upper().translate(_CROCKFORD_READS)
    if len(compact) != _RECOVERY_CHARS or any(char not in _CROCKFORD for char in compact):
        return None
    return compact


def _hash_recovery_code(normalized: str) -> str:
    # A plain SHA-256 is enough here, as for API tokens: each code carries 80 bits from a CSPRNG,
    # so recovering one from its digest means about 2**79 hashes on average, out of reach even
    # for fast GPU hashing; a slow hash or a server key would add cost without adding safety.
    # The codes only stand in for the second factor: the password is still required.
    return hashlib.sha256(_RECOVERY_LABEL + normalized.encode("ascii")).hexdigest()


def generate_recovery_codes(n: int = 10) -> RecoveryCodes:
    """Make ``n`` distinct recovery codes like ``7K3Q-M9XA-2PRD-WN4F`` and their digests."""
    if not 1 <= n <= 100:
        raise ValueError("n must be 1-100")
    raw: set[str] = set()
    while len(raw) < n:
        raw.add("".join(secrets.choice(_CROCKFORD) for _ in range(_RECOVERY_CHARS)))
    codes = tuple(sorted(raw))
    shown = tuple(
        "-".join(code[i : i + _RECOVERY_GROUP] for i in range(0, _RECOVERY_CHARS, _RECOVERY_GROUP))
        for code in codes
    )
    return RecoveryCodes(codes=shown, hashes=tuple(_hash_recovery_code(code) for code in codes))


def match_recovery_code(code: str, hashes: Sequence[str]) -> int | None:
    """Return the index in ``hashes`` of the digest of ``code``, or ``None``.

    Case, spaces, dashes and the look-alikes O/0 and I/L/1 are forgiven. Every digest is
    compared in constant time, and all of them are compared whatever matches. The caller
    deletes ``hashes[index]`` so the code cannot be used again.
    """
    normalized = _normalize_recovery_code(code) if isinstance(code, str) else None
    digest = _hash_recovery_code(normalized if normalized is not None else "")
    found: int | None = None
    for index, stored in enumerate(hashes):
        if not isinstance(stored, str) or _RECOVERY_DIGEST.fullmatch(stored) is None:
            continue
        if hmac.compare_digest(digest, stored) and normalized is not None and found is None:
            found = index
    return found
