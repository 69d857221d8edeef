"""Encryption at rest for small secrets (TOTP seeds and the like): AES-256-GCM, NIST SP 800-38D.

The key lives outside the database (environment or secret file) in a :class:`KeyRing`; only
ciphertexts are stored. A ciphertext is one ASCII string::

    v1:<key id>:<nonce, base64url>:<ciphertext || 16-byte tag, base64url>

The nonce is 96 random bits per encryption (SP 800-38D §8.2.2). With random nonces a key should
seal fewer than 2**32 messages (§8.3): far beyond a table of TOTP seeds, and rotation resets it.

Associated data is required: pass what the secret belongs to (say ``b"totp:user:42"``) so a
ciphertext copied onto another row fails to decrypt. The version and key id are bound into the
associated data too, so the header cannot be edited either.

Rotation: make a new key current and keep the old one in the ring; :meth:`KeyRing.needs_reencrypt`
finds what was sealed with an old key and :meth:`KeyRing.reencrypt` moves it to the current one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from libs.security._encoding import b64url_decode, b64url_encode
from libs.security._keys import KEY_ID_PATTERN, KeyRingBase, SecretKey
from libs.security.errors import DecryptionFailed, UnknownKeyId

__all__ = ["EncryptionKey", "KeyRing"]

_VERSION = "v1"
_AD_LABEL = b"tandem.enc.v1\x00"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_MAX_TOKEN_CHARS = 1 << 20
_TOKEN = re.compile(
    _VERSION + r":(?P<kid>" + KEY_ID_PATTERN + r"):(?P<nonce>[A-Za-z0-9_-]{16}):"
    r"(?P<body>[A-Za-z0-9_-]{22,})"
)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class EncryptionKey(SecretKey):
    """An AES-256 key: an id (written into every ciphertext) and exactly 32 secret bytes.

    ``repr`` shows the id only.
    """

    min_secret_bytes: ClassVar[int] = 32
    max_secret_bytes: ClassVar[int] = 32


def _associated(key_id: str, associated_data: bytes) -> bytes:
    return _AD_LABEL + key_id.encode("ascii") + b"\x00" + associated_data


class KeyRing(KeyRingBase[EncryptionKey]):
    """AES-256-GCM keys: the current one encrypts, any of them decrypts what it made."""

    __slots__ = ()

    @classmethod
    def _key_from_base64(cls, key_id: str, text: str) -> EncryptionKey:
        return EncryptionKey.from_base64(key_id, text)

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> str:
        """Encrypt ``plaintext`` with the current key, bound to ``associated_data``."""
        key = self.current
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(key.secret).encrypt(
            nonce, plaintext, _associated(key.key_id, associated_data)
        )
        return f"{_VERSION}:{key.key_id}:{b64url_encode(nonce)}:{b64url_encode(sealed)}"

    def key_id_of(self, token: str) -> str:
        """The key id a ciphertext names. Raises :class:`DecryptionFailed` if it is malformed."""
        return self._split(token)[0]

    def needs_reencrypt(self, token: str) -> bool:
        """True if ``token`` was not made with the current key."""
        return self.key_id_of(token) != self.current.key_id

    def decrypt(self, token: str, associated_data: bytes) -> bytes:
        """Return the plaintext of ``token``.

        Raises :class:`UnknownKeyId` if the ring lacks the key it names, and
        :class:`DecryptionFailed` if it is malformed, was altered, or ``associated_data``
        differs from the one it was sealed with.
        """
        key_id, nonce, sealed = self._split(token)
        key = self.get(key_id)
        if key is None:
            raise UnknownKeyId(f"no key with id {key_id!r} in the key ring")
        try:
            return AESGCM(key.secret).decrypt(nonce, sealed, _associated(key_id, associated_data))
        except InvalidTag:
            raise DecryptionFailed(
                "the ciphertext failed authentication (altered, or other associated data)"
            ) from None

    def reencrypt(self, token: str, associated_data: bytes) -> str:
        """Decrypt ``token`` and encrypt it again under the current key."""
        return self.encrypt(self.decrypt(token, associated_data), associated_data)

    @staticmethod
    def _split(token: str) -> tuple[str, bytes, bytes]:
        if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
            raise DecryptionFailed("not a Tandem ciphertext")
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise DecryptionFailed("not a Tandem ciphertext")
        nonce = b64url_decode(match["nonce"])
        sealed = b64url_decode(match["body"])
        if nonce is None or sealed is None or len(sealed) < _TAG_BYTES:
            raise DecryptionFailed("not a Tandem ciphertext")
        return match["kid"], nonce, sealed
