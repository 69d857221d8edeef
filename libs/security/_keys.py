"""Named secret keys and key rings: the shape shared by peppers, data keys and signing keys.

Each use gets its own nominal subclass (``Pepper``, ``EncryptionKey``, ``SigningKey`` and their
rings) so that the type checker refuses, say, a signing key ring where a pepper ring is expected.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar, Generic, Self, TypeVar

from libs.security.errors import ConfigurationError

# A key id is written into stored hashes, ciphertexts and token headers, so it is restricted to
# characters that none of those formats uses as a separator (no "$", ":", ",", quotes or spaces).
KEY_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_KEY_ID = re.compile(KEY_ID_PATTERN)


def validate_key_id(key_id: str) -> str:
    """Return ``key_id`` if it is 1-64 characters of ``[A-Za-z0-9._-]``; raise otherwise."""
    if not isinstance(key_id, str) or _KEY_ID.fullmatch(key_id) is None:
        raise ConfigurationError(
            "a key id must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit"
        )
    return key_id


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class SecretKey:
    """A secret byte string with a public id. Its ``repr`` never shows the secret."""

    key_id: str
    secret: bytes

    min_secret_bytes: ClassVar[int] = 32
    max_secret_bytes: ClassVar[int] = 1024
    generated_bytes: ClassVar[int] = 32

    def __post_init__(self) -> None:
        validate_key_id(self.key_id)
        name = type(self).__name__
        if not isinstance(self.secret, bytes):
            raise ConfigurationError(f"{name} {self.key_id!r}: the secret must be bytes")
        size = len(self.secret)
        if self.min_secret_bytes == self.max_secret_bytes and size != self.min_secret_bytes:
            raise ConfigurationError(
                f"{name} {self.key_id!r}: the secret must be exactly {self.min_secret_bytes} bytes"
            )
        if not self.min_secret_bytes <= size <= self.max_secret_bytes:
            raise ConfigurationError(
                f"{name} {self.key_id!r}: the secret must be "
                f"{self.min_secret_bytes}-{self.max_secret_bytes} bytes"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key_id={self.key_id!r}, secret=<hidden>)"

    @classmethod
    def generate(cls, key_id: str) -> Self:
        """Make a new key with a fresh random secret from :mod:`secrets`."""
        return cls(key_id, secrets.token_bytes(cls.generated_bytes))

    @classmethod
    def from_base64(cls, key_id: str, text: str) -> Self:
        """Make a key from base64 text (standard or URL-safe alphabet, padding optional).

        Surrounding whitespace is ignored, so the content of a secret file with a trailing
        newline works as is (``openssl rand -base64 32`` makes a suitable secret).
        """
        compact = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
        try:
            secret = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError(
                f"{cls.__name__} {key_id!r}: the secret is not valid base64"
            ) from None
        return cls(key_id, secret)


K = TypeVar("K", bound=SecretKey)


class KeyRingBase(Generic[K]):
    """The current key (used for new hashes, ciphertexts, tokens) plus older ones (read only).

    Rotation: add a new key as ``current`` and keep the previous one among ``older`` until
    nothing made with it remains; then drop it.
    """

    __slots__ = ("_current", "_keys")

    def __init__(self, current: K, older: Iterable[K] = ()) -> None:
        keys: dict[str, K] = {current.key_id: current}
        for key in older:
            if key.key_id in keys:
                raise ConfigurationError(f"duplicate key id {key.key_id!r} in the key ring")
            keys[key.key_id] = key
        self._current = current
        self._keys = keys

    @property
    def current(self) -> K:
        """The key used for everything new."""
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id in the ring, the current one first."""
        return tuple(self._keys)

    def get(self, key_id: str) -> K | None:
        """The key with this id, or ``None``."""
        return self._keys.get(key_id)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __iter__(self) -> Iterator[K]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        older = tuple(self.key_ids[1:])
        return f"{type(self).__name__}(current={self._current.key_id!r}, older={older!r})"

    @classmethod
    def _key_from_base64(cls, key_id: str, text: str) -> K:
        raise NotImplementedError  # pragma: no cover - every concrete ring overrides it

    @classmethod
    def from_spec(cls, spec: str) -> Self:
        """Build a ring from ``"id1:base64,id0:base64"``; the first entry is the current key.

        This is the one text form for configuration (an environment variable or a secret file).
        Errors name the key id, never the secret.
        """
        entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
        if not entries:
            raise ConfigurationError("a key ring needs at least one 'id:base64' entry")
        keys: list[K] = []
        for entry in entries:
            key_id, sep, text = entry.partition(":")
            if not sep:
                raise ConfigurationError("every key ring entry must look like 'id:base64'")
            keys.append(cls._key_from_base64(validate_key_id(key_id.strip()), text))
        return cls(keys[0], keys[1:])
