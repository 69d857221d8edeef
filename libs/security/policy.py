"""Password rules after NIST SP 800-63B §5.1.1 (memorized secrets) and §5.1.1.2 (verifiers).

What a password must satisfy, and nothing more:

* at least 8 characters when a person chose it, at least 6 when a machine generated it;
* at most 256 characters (NIST requires at least 64 to be allowed); never truncated;
* any characters: spaces, punctuation, emoji, any script. Lone UTF-16 surrogates are refused,
  because they are not characters and no keyboard can type them again;
* not a known password: the 30,000 most common passwords of Xato's set of 10 million
  passwords from public breaches, as the ``zxcvbn`` package ships them, compared
  case-insensitively (zxcvbn's list leaves out some repeats and sequences that its own pattern
  matchers catch; the repetition rule below covers those);
* not a single character or a short unit repeated, nor a plain run like ``abcdefgh``;
* not containing the product name, the user name, or the email address or its parts.

No composition rules (no "one digit, one symbol"), no expiry, no hints: §5.1.1.2 tells
verifiers not to impose them.

**Normalisation.** Every password is NFKC-normalised (Unicode UAX #15) before it is counted,
checked or hashed, as §5.1.1.2 recommends. :func:`normalize_password` is the one place that does
it; :mod:`libs.security.passwords` hashes its output, so ``"é"`` typed as one code point or as
``e`` + combining accent, or a full-width A (U+FF21) and ``A``, are the same password everywhere.
Length is counted in code points after normalisation. Case is kept for hashing; only the
dictionary and context checks compare case-insensitively.
"""

from __future__ import annotations

import functools
import itertools
import re
import secrets
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from libs.security.errors import ConfigurationError, PasswordRejected

__all__ = [
    "MAX_PASSWORD_CHARS",
    "PasswordPolicy",
    "PolicyResult",
    "PolicyViolation",
    "SecretOrigin",
    "ViolationCode",
    "generate_secret",
    "is_known_password",
    "known_passwords",
    "normalize_email",
    "normalize_password",
]

PRODUCT_NAME = "tandem"

MAX_PASSWORD_CHARS = 4096
"""Hard ceiling, far above any policy, past which hashing refuses work (a DoS guard)."""

_URLSAFE_ALPHABET = string.ascii_letters + string.digits + "-_"
_SURROGATES = re.compile("[\ud800-\udfff]")
_WORD_SEPARATORS = re.compile(r"[\s.+_\-@]+")
# Containment is only checked for context words this long: refusing every password that
# contains "jo" because the user is called Jo would refuse far too much.
_MIN_CONTAINED_WORD = 4
# Domain labels that say nothing about the user.
_GENERIC_LABELS = frozenset({"mail", "email", "smtp", "imap", "mx", "www", "corp", "info"})


def normalize_password(password: str) -> str:
    """Return the NFKC normal form of ``password``: what is counted, checked and hashed."""
    return unicodedata.normalize("NFKC", password)


def normalize_email(email: str) -> str:
    """Return ``email`` trimmed, NFKC-normalised and case-folded (the form used for seasoning)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email.strip()).casefold())


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


@functools.cache
def known_passwords() -> frozenset[str]:
    """The known (breached) password list, normalised and case-folded; loaded once, on first use.

    The list is the ``passwords`` frequency list of the ``zxcvbn`` package: the 30,000 most
    common passwords of Xato's set of 10 million passwords from public breaches (2015).
    """
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(_fold(word) for word in FREQUENCY_LISTS["passwords"])


def is_known_password(password: str) -> bool:
    """True if ``password`` (normalised, case-insensitively) is on the known-password list."""
    return _fold(password) in known_passwords()


class SecretOrigin(StrEnum):
    """Who chose the secret: a person (min 8 characters) or a machine (min 6)."""

    PERSON = "person"
    MACHINE = "machine"


class ViolationCode(StrEnum):
    """Machine-readable reason a password was refused."""

    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    INVALID_CHARACTERS = "invalid_characters"
    KNOWN_PASSWORD = "known_password"  # noqa: S105 - a reason code, not a password
    REPETITIVE = "repetitive"
    CONTEXT_WORD = "context_word"


@dataclass(frozen=True, slots=True)
class PolicyViolation:
    """One broken rule: a stable ``code`` for programs and a ``message`` for people."""

    code: ViolationCode
    message: str


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """The outcome of :meth:`PasswordPolicy.check`: empty ``violations`` means acceptable."""

    violations: tuple[PolicyViolation, ...]

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return not self.violations

    @property
    def codes(self) -> frozenset[ViolationCode]:
        """The codes of the broken rules."""
        return frozenset(violation.code for violation in self.violations)

    def raise_if_rejected(self) -> None:
        """Raise :class:`PasswordRejected` carrying every violation, if there is any."""
        if self.violations:
            raise PasswordRejected(self.violations)


def too_long_violation(max_length: int) -> PolicyViolation:
    """The violation reported for a password over ``max_length`` characters."""
    return PolicyViolation(
        ViolationCode.TOO_LONG, f"The password must be at most {max_length} characters long."
    )


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """The password rules; the defaults are the NIST SP 800-63B ones described above."""

    min_length_person: int = 8
    min_length_machine: int = 6
    max_length: int = 256
    product_words: tuple[str, ...] = (PRODUCT_NAME,)

    def __post_init__(self) -> None:
        if not 1 <= self.min_length_machine <= self.min_length_person:
            raise ConfigurationError("need 1 <= min_length_machine <= min_length_person")
        if not max(64, self.min_length_person) <= self.max_length <= MAX_PASSWORD_CHARS:
            raise ConfigurationError(
                f"max_length must allow at least 64 characters and at most {MAX_PASSWORD_CHARS}"
            )

    def check(
        self,
        password: str,
        *,
        email: str | None = None,
        username: str | None = None,
        context_words: Iterable[str] = (),
        origin: SecretOrigin = SecretOrigin.PERSON,
    ) -> PolicyResult:
        """Check ``password`` against every rule and report all that it breaks.

        ``email`` and ``username`` are the account's; ``context_words`` adds others (a company
        name, say). The product name is always a context word.
        """
        normalized = normalize_password(password)
        length = len(normalized)
        violations: list[PolicyViolation] = []
        minimum = (
            self.min_length_machine if origin is SecretOrigin.MACHINE else self.min_length_person
        )
        if length < minimum:
            violations.append(
                PolicyViolation(
                    ViolationCode.TOO_SHORT,
                    f"The password must be at least {minimum} characters long.",
                )
            )
        if length > self.max_length:
            violations.append(too_long_violation(self.max_length))
            # Checks below would only burn CPU on an input that is refused anyway.
            return PolicyResult(tuple(violations))
        if _SURROGATES.search(normalized):
            violations.append(
                PolicyViolation(
                    ViolationCode.INVALID_CHARACTERS,
                    "The password contains an invalid character (a lone UTF-16 surrogate).",
                )
            )
        folded = _fold(normalized)
        if folded in known_passwords():
            violations.append(
                PolicyViolation(
                    ViolationCode.KNOWN_PASSWORD,
                    "This password is on a list of passwords exposed in data breaches; "
                    "choose another one.",
                )
            )
        if _is_repetitive(folded):
            violations.append(
                PolicyViolation(
                    ViolationCode.REPETITIVE,
                    "The password must not be a repeated character or pattern, "
                    "or a simple sequence.",
                )
            )
        words = _context_words(
            email=email,
            username=username,
            extra=(*self.product_words, *context_words),
        )
        if _contains_context_word(folded, words):
            violations.append(
                PolicyViolation(
                    ViolationCode.CONTEXT_WORD,
                    "The password must not contain your user name, your email address "
                    "or the name of this service.",
                )
            )
        return PolicyResult(tuple(violations))

    def enforce(
        self,
        password: str,
        *,
        email: str | None = None,
        username: str | None = None,
        context_words: Iterable[str] = (),
        origin: SecretOrigin = SecretOrigin.PERSON,
    ) -> None:
        """Like :meth:`check`, but raise :class:`PasswordRejected` if any rule is broken."""
        self.check(
            password,
            email=email,
            username=username,
            context_words=context_words,
            origin=origin,
        ).raise_if_rejected()


def _is_repetitive(folded: str) -> bool:
    """True for ``aaaaaaaa``, ``abcabcab``, ``passpass``, ``abcdefgh``, ``87654321``."""
    if len(folded) < 2:
        return False
    for unit in range(1, 5):
        if len(folded) >= 2 * unit and folded == (folded[:unit] * len(folded))[: len(folded)]:
            return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(folded)}
    return steps in ({1}, {-1})


def _context_words(*, email: str | None, username: str | None, extra: Iterable[str]) -> set[str]:
    words = {_fold(word) for word in extra}
    if email:
        address = normalize_email(email)
        local, at, domain = address.rpartition("@")
        if not at:
            local, domain = address, ""
        words.update((address, local, domain))
        words.update(_WORD_SEPARATORS.split(local))
        labels = domain.split(".")[:-1]  # the top-level domain says nothing about the user
        label_words = {part for label in labels for part in (label, *_WORD_SEPARATORS.split(label))}
        words.update(label_words - _GENERIC_LABELS)
    if username:
        name = _fold(username.strip())
        words.add(name)
        words.update(_WORD_SEPARATORS.split(name))
    words.discard("")
    return words


def _contains_context_word(folded: str, words: set[str]) -> bool:
    return any(
        folded == word or (len(word) >= _MIN_CONTAINED_WORD and word in folded) for word in words
    )


def generate_secret(length: int = 22) -> str:
    """Return a machine-generated password of ``length`` URL-safe characters.

    Each character is drawn uniformly by :mod:`secrets` from 64 symbols (6 bits), so the
    default of 22 characters carries 132 bits of entropy. ``length`` must be 6-256.
    """
    if not 6 <= length <= 256:
        raise ConfigurationError("a generated secret must be 6-256 characters long")
    return "".join(secrets.choice(_URLSAFE_ALPHABET) for _ in range(length))
