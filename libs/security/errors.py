"""Exceptions raised by :mod:`libs.security`.

Every exception the library raises on purpose derives from one root, so a caller can catch
``SecurityError`` and know it caught nothing else::

    SecurityError
    ├── ConfigurationError          bad key material or parameters from the caller     (ValueError)
    ├── PasswordRejected            a password breaks the policy; ``.reasons`` says why (ValueError)
    ├── TotpError                   a stored TOTP secret is not valid base32
    ├── CryptoError                 encryption at rest
    │   ├── DecryptionFailed        malformed, tampered, or wrong associated data
    │   └── UnknownKeyId            the ciphertext names a key the ring does not hold
    ├── TokenError                  access tokens
    │   ├── TokenInvalid            malformed, bad signature, unknown key id, bad claims
    │   └── TokenExpired            well-formed and authentic, but past ``exp``
    ├── DigestError                 a SIP digest parameter the helpers do not support  (ValueError)
    └── InvalidNetwork              an allow-list entry or address that is not an IP    (ValueError)

The ones marked ``ValueError`` also derive from it, so a pydantic validator that calls this
library turns them into a validation error (HTTP 422) without extra code.

No message, ``args`` or ``repr`` of these exceptions ever contains a password, key, pepper,
token or TOTP secret: messages name the *kind* of problem and, at most, a non-secret key id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from libs.security.policy import PolicyViolation

__all__ = [
    "ConfigurationError",
    "CryptoError",
    "DecryptionFailed",
    "DigestError",
    "InvalidNetwork",
    "PasswordRejected",
    "SecurityError",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TotpError",
    "UnknownKeyId",
]


class SecurityError(Exception):
    """Root of every exception raised by :mod:`libs.security`."""


class ConfigurationError(SecurityError, ValueError):
    """Key material, a key id, or a cost parameter given by the caller is unusable."""


class PasswordRejected(SecurityError, ValueError):
    """A password does not satisfy the password policy.

    ``reasons`` holds one :class:`~libs.security.policy.PolicyViolation` per broken rule, each
    with a machine-readable ``code`` and a human ``message``. The password itself is never
    part of the exception.
    """

    def __init__(self, reasons: tuple[PolicyViolation, ...]) -> None:
        self.reasons = reasons
        codes = ", ".join(str(reason.code) for reason in reasons)
        super().__init__(f"password rejected: {codes}")


class TotpError(SecurityError):
    """A stored TOTP secret cannot be used (it is not valid base32)."""


class CryptoError(SecurityError):
    """Encryption at rest failed."""


class DecryptionFailed(CryptoError):
    """The ciphertext is malformed, was tampered with, or the associated data differs."""


class UnknownKeyId(CryptoError):
    """The ciphertext was made with a key id that the key ring does not hold."""


class TokenError(SecurityError):
    """An access token cannot be accepted."""


class TokenInvalid(TokenError):
    """The token is malformed, its signature is wrong, its key id is unknown, or a claim is bad."""


class TokenExpired(TokenError):
    """The token is authentic but its ``exp`` has passed."""


class DigestError(SecurityError, ValueError):
    """A SIP digest algorithm or qop value that the helpers do not support."""


class InvalidNetwork(SecurityError, ValueError):
    """An allow-list entry or a source address is not a valid IP address or CIDR network."""
