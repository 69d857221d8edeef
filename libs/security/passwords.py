"""Password hashing: Argon2id (RFC 9106) over a peppered, email-seasoned HMAC of the password.

How a password is hashed::

    seasoning = SHA-256("tandem.password.seasoning.v1" NUL normalize_email(email))
    secret    = HMAC-SHA256(key=pepper, seasoning || UTF-8(NFKC(password)))
    stored    = "$tandem$v=1$kid=<pepper id>" + Argon2id(secret, random 16-byte salt, cost)

* **Salt**: Argon2's own, 16 random bytes per hash (RFC 9106 §3.1 recommends 128 bits).
* **Seasoning**: derived from the account's normalised email, so a hash only verifies for the
  account it was made for: someone who can write the users table cannot copy the hash of a
  password they know onto another account. Changing an account's email therefore needs the
  password, to hash it again.
* **Pepper**: a secret kept outside the database (environment or secret file) and loaded by
  the caller into a :class:`PepperRing`. A stolen database alone cannot test a single guess.
  The stored string names the pepper's key id, so peppers rotate: hashes made under an older
  pepper still verify while it stays in the ring, and :meth:`PasswordService.needs_rehash`
  says when to re-hash (at the next successful login).
* **No truncation**: the HMAC takes input of any length and yields 32 bytes for Argon2, so two
  passwords that differ anywhere, even past byte 72 (bcrypt's limit), hash differently.
* **Cost**: :class:`ArgonCost` defaults to RFC 9106 §4's second recommended option (t=3,
  m=64 MiB, p=4), which is also above OWASP's Argon2id minimums.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Self

from argon2.exceptions import Argon2Error
from argon2.low_level import ARGON2_VERSION, Type, hash_secret, verify_secret

from libs.security._keys import KEY_ID_PATTERN, KeyRingBase, SecretKey
from libs.security.errors import ConfigurationError, PasswordRejected
from libs.security.policy import (
    MAX_PASSWORD_CHARS,
    PolicyViolation,
    ViolationCode,
    normalize_email,
    normalize_password,
    too_long_violation,
)

__all__ = ["ArgonCost", "PasswordService", "Pepper", "PepperRing"]

logger = logging.getLogger(__name__)

_SEASONING_LABEL = b"tandem.password.seasoning.v1\x00"
_PREFIX = "$tandem$v=1$kid="
_MAX_STORED_CHARS = 512
_DUMMY_EMAIL = "dummy@tandem.invalid"

# Bounds on what a stored hash may ask of the verifier, so that a corrupted or planted row
# cannot make one login allocate gigabytes or spin for minutes. They are also the bounds on
# ArgonCost.
_MAX_TIME_COST = 64
_MAX_MEMORY_KIB = 4 * 1024 * 1024  # 4 GiB
_MAX_PARALLELISM = 64

_STORED = re.compile(
    r"\$tandem\$v=1\$kid=(?P<kid>" + KEY_ID_PATTERN + r")"
    r"(?P<encoded>\$argon2id\$v=" + str(ARGON2_VERSION) + r"\$"
    r"m=(?P<m>[1-9][0-9]{0,9}),t=(?P<t>[1-9][0-9]{0,9}),p=(?P<p>[1-9][0-9]{0,9})"
    r"\$(?P<salt>[A-Za-z0-9+/]{22,86})\$(?P<hash>[A-Za-z0-9+/]{22,86}))"
)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Pepper(SecretKey):
    """An off-database pepper: an id (stored in every hash) and a secret of 32-1024 bytes.

    ``repr`` shows the id only.
    """


class PepperRing(KeyRingBase[Pepper]):
    """The current pepper (for new hashes) and older ones (still accepted for verification)."""

    __slots__ = ()

    @classmethod
    def _key_from_base64(cls, key_id: str, text: str) -> Pepper:
        return Pepper.from_base64(key_id, text)


@dataclass(frozen=True, slots=True)
class ArgonCost:
    """Argon2id cost parameters. ``memory_cost`` is in KiB, as in argon2-cffi and RFC 9106.

    The default is RFC 9106 §4's second recommended option (time 3, 64 MiB, 4 lanes), for
    servers where 2 GiB per hash (the first option, ``t=1, m=2 GiB``) is too much memory.
    """

    time_cost: int = 3
    memory_cost: int = 64 * 1024
    parallelism: int = 4
    hash_len: int = 32
    salt_len: int = 16

    def __post_init__(self) -> None:
        if not 1 <= self.parallelism <= _MAX_PARALLELISM:
            raise ConfigurationError(f"parallelism must be 1-{_MAX_PARALLELISM}")
        if not 1 <= self.time_cost <= _MAX_TIME_COST:
            raise ConfigurationError(f"time_cost must be 1-{_MAX_TIME_COST}")
        if not 8 * self.parallelism <= self.memory_cost <= _MAX_MEMORY_KIB:
            raise ConfigurationError("memory_cost must be 8*parallelism KiB to 4 GiB")
        if not 16 <= self.hash_len <= 64:
            raise ConfigurationError("hash_len must be 16-64 bytes")
        if not 16 <= self.salt_len <= 64:
            raise ConfigurationError("salt_len must be 16-64 bytes")

    @classmethod
    def cheap(cls) -> Self:
        """A profile that costs about a millisecond: for tests only, never for real passwords."""
        return cls(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass(frozen=True, slots=True)
class _Parsed:
    key_id: str
    encoded: str
    cost: ArgonCost


def _b64_len_to_bytes(chars: int) -> int:
    return chars * 3 // 4


def _parse(stored: object) -> _Parsed | None:
    if not isinstance(stored, str) or len(stored) > _MAX_STORED_CHARS:
        return None
    match = _STORED.fullmatch(stored)
    if match is None:
        return None
    try:
        cost = ArgonCost(
            time_cost=int(match["t"]),
            memory_cost=int(match["m"]),
            parallelism=int(match["p"]),
            hash_len=_b64_len_to_bytes(len(match["hash"])),
            salt_len=_b64_len_to_bytes(len(match["salt"])),
        )
    except ConfigurationError:
        return None
    return _Parsed(key_id=match["kid"], encoded=match["encoded"], cost=cost)


def _encode(text: str) -> bytes:
    # "surrogatepass" so that a lone surrogate (which JSON can carry) hashes instead of raising;
    # the policy refuses such passwords when they are set.
    return text.encode("utf-8", "surrogatepass")


class PasswordService:
    """Hash and verify passwords with a :class:`PepperRing` and an :class:`ArgonCost`.

    This applies no policy: run :class:`~libs.security.policy.PasswordPolicy` when a password
    is set. It only refuses the empty password and ones over
    :data:`~libs.security.policy.MAX_PASSWORD_CHARS` characters.

    Hashing and verifying block for the Argon2 cost (about 0.1 s of CPU at the default; the
    constructor makes one hash too). In async code call them in a worker thread, e.g.
    ``await asyncio.to_thread(service.verify, stored, password, email)``; argon2-cffi releases
    the GIL while it works. Instances are immutable and safe to share between threads.
    """

    __slots__ = ("_cost", "_dummy", "_peppers")

    def __init__(self, peppers: PepperRing, cost: ArgonCost | None = None) -> None:
        self._peppers = peppers
        self._cost = cost if cost is not None else ArgonCost()
        # Made now (one hash, at start-up) so the first unknown-account login is not slower.
        dummy = _parse(self.hash(secrets.token_urlsafe(32), _DUMMY_EMAIL))
        if dummy is None:  # pragma: no cover - the service made this string itself
            raise ConfigurationError("could not make the dummy hash")
        self._dummy = dummy

    @property
    def cost(self) -> ArgonCost:
        """The cost used for new hashes."""
        return self._cost

    def __repr__(self) -> str:
        return f"PasswordService(peppers={self._peppers!r}, cost={self._cost!r})"

    def _secret(self, pepper: Pepper, password: str, email: str) -> bytes:
        seasoning = hashlib.sha256(_SEASONING_LABEL + _encode(normalize_email(email))).digest()
        message = seasoning + _encode(normalize_password(password))
        return hmac.new(pepper.secret, message, hashlib.sha256).digest()

    def hash(self, password: str, email: str) -> str:
        """Hash ``password`` for the account with ``email`` under the current pepper.

        Raises :class:`PasswordRejected` (``too_short``/``too_long``) only for the empty
        password and one over the hard ceiling.
        """
        normalized = normalize_password(password)
        if not normalized:
            raise PasswordRejected(
                (PolicyViolation(ViolationCode.TOO_SHORT, "The password must not be empty."),)
            )
        if len(normalized) > MAX_PASSWORD_CHARS:
            raise PasswordRejected((too_long_violation(MAX_PASSWORD_CHARS),))
        pepper = self._peppers.current
        cost = self._cost
        encoded = hash_secret(
            secret=self._secret(pepper, normalized, email),
            salt=secrets.token_bytes(cost.salt_len),
            time_cost=cost.time_cost,
            memory_cost=cost.memory_cost,
            parallelism=cost.parallelism,
            hash_len=cost.hash_len,
            type=Type.ID,
        ).decode("ascii")
        return f"{_PREFIX}{pepper.key_id}{encoded}"

    def verify(self, stored: str, password: str, email: str) -> bool:
        """True if ``password`` is the one hashed into ``stored`` for ``email``.

        Never raises for a bad ``stored`` value (malformed, another scheme, absurd cost,
        unknown pepper id): it returns ``False`` after the same work as a real verification,
        so timing does not tell those accounts apart. The comparison inside Argon2 is
        constant-time.
        """
        parsed = _parse(stored)
        if parsed is None:
            return self.dummy_verify(password)
        pepper = self._peppers.get(parsed.key_id)
        if pepper is None:
            logger.warning(
                "password hash names pepper key id %r, which is not in the ring", parsed.key_id
            )
            return self.dummy_verify(password)
        normalized = normalize_password(password)
        if len(normalized) > MAX_PASSWORD_CHARS:
            return False
        try:
            return verify_secret(
                parsed.encoded.encode("ascii"),
                self._secret(pepper, normalized, email),
                Type.ID,
            )
        except (Argon2Error, ValueError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """True if ``stored`` was not made with the current pepper and cost (or is malformed).

        Call it after a successful :meth:`verify` and, if true, store :meth:`hash` of the
        password that just verified.
        """
        parsed = _parse(stored)
        if parsed is None:
            return True
        return parsed.key_id != self._peppers.current.key_id or parsed.cost != self._cost

    def dummy_verify(self, password: str) -> bool:
        """Do the work of one verification and return ``False``.

        Call it when the account does not exist, so that an unknown email costs as much time
        as a wrong password and logins do not reveal which accounts exist.
        """
        normalized = normalize_password(password)[:MAX_PASSWORD_CHARS]
        with contextlib.suppress(Argon2Error, ValueError):
            verify_secret(
                self._dummy.encoded.encode("ascii"),
                self._secret(self._peppers.current, normalized, _DUMMY_EMAIL),
                Type.ID,
            )
        return False
