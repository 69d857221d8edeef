"""Tandem's security primitives: pure library code, no web framework, no database, no clock.

============  ==================================================================
module        what it does
============  ==================================================================
passwords     Argon2id password hashes with salt, email seasoning and a rotatable pepper
policy        NIST SP 800-63B password rules and machine-generated secrets
totp          RFC 6238 TOTP codes with replay refusal, QR enrolment, recovery codes
crypto        AES-256-GCM encryption at rest with a rotatable key ring
tokens        opaque API/refresh tokens and HS256-signed access tokens
throttle      the login delay and lockout schedule, as pure functions
digest        SIP digest HA1 and response helpers (RFC 2617/7616/8760)
netacl        IPv4/IPv6 source-address allow lists
errors        the exception tree, rooted at :class:`SecurityError`
============  ==================================================================

The functions of ``totp``, ``throttle`` and ``digest`` have short names (``verify``, ``check``,
``ha1``) and are meant to be called through their module: ``totp.verify(...)``.

Secrets (peppers, keys) are loaded by the caller, from the environment or secret files,
and handed in as key rings; nothing here reads configuration, logs a secret, or puts one in an
exception message or ``repr``.
"""

from libs.security.crypto import EncryptionKey, KeyRing
from libs.security.errors import (
    ConfigurationError,
    CryptoError,
    DecryptionFailed,
    DigestError,
    InvalidNetwork,
    PasswordRejected,
    SecurityError,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TotpError,
    UnknownKeyId,
)
from libs.security.netacl import AddressAcl
from libs.security.passwords import ArgonCost, PasswordService, Pepper, PepperRing
from libs.security.policy import (
    PasswordPolicy,
    PolicyResult,
    PolicyViolation,
    SecretOrigin,
    ViolationCode,
    generate_secret,
    normalize_password,
)
from libs.security.throttle import Decision, DecisionReason, ThrottlePolicy, ThrottleState
from libs.security.tokens import (
    AccessClaims,
    NewToken,
    PrincipalKind,
    SigningKey,
    SigningKeyRing,
    decode_access_token,
    issue_access_token,
    new_token,
    parse_token,
    verify_token,
)

__all__ = [
    "AccessClaims",
    "AddressAcl",
    "ArgonCost",
    "ConfigurationError",
    "CryptoError",
    "Decision",
    "DecisionReason",
    "DecryptionFailed",
    "DigestError",
    "EncryptionKey",
    "InvalidNetwork",
    "KeyRing",
    "NewToken",
    "PasswordPolicy",
    "PasswordRejected",
    "PasswordService",
    "Pepper",
    "PepperRing",
    "PolicyResult",
    "PolicyViolation",
    "PrincipalKind",
    "SecretOrigin",
    "SecurityError",
    "SigningKey",
    "SigningKeyRing",
    "ThrottlePolicy",
    "ThrottleState",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TotpError",
    "UnknownKeyId",
    "ViolationCode",
    "decode_access_token",
    "generate_secret",
    "issue_access_token",
    "new_token",
    "normalize_password",
    "parse_token",
    "verify_token",
]
