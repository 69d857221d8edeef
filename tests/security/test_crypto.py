"""AES-256-GCM encryption at rest with a rotatable key ring."""

from __future__ import annotations

import base64
import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.security import (
    ConfigurationError,
    CryptoError,
    DecryptionFailed,
    EncryptionKey,
    KeyRing,
    UnknownKeyId,
)

AD = b"totp:user:42"
SEED = b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def ring(current: str = "k1", *older: str) -> KeyRing:
    return KeyRing(EncryptionKey.generate(current), [EncryptionKey.generate(k) for k in older])


def test_round_trip() -> None:
    keys = ring()
    token = keys.encrypt(SEED, AD)
    assert keys.decrypt(token, AD) == SEED
    assert token.startswith("v1:k1:")
    assert SEED.decode() not in token


def test_empty_plaintext_round_trips() -> None:
    keys = ring()
    assert keys.decrypt(keys.encrypt(b"", AD), AD) == b""


def test_every_encryption_uses_a_fresh_nonce() -> None:
    keys = ring()
    first, second = keys.encrypt(SEED, AD), keys.encrypt(SEED, AD)
    assert first != second
    assert first.split(":")[2] != second.split(":")[2]


def test_associated_data_mismatch_fails() -> None:
    keys = ring()
    token = keys.encrypt(SEED, AD)
    with pytest.raises(DecryptionFailed):
        keys.decrypt(token, b"totp:user:43")


def _flip(text: str, index: int) -> str:
    char = text[index]
    return text[:index] + ("A" if char != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize("part", [2, 3])
def test_tampering_with_nonce_or_ciphertext_is_detected(part: int) -> None:
    keys = ring()
    pieces = keys.encrypt(SEED, AD).split(":")
    pieces[part] = _flip(pieces[part], 5)
    with pytest.raises(DecryptionFailed):
        keys.decrypt(":".join(pieces), AD)


def test_relabelling_the_key_id_is_detected() -> None:
    shared = EncryptionKey.generate("a")
    same_secret_other_id = EncryptionKey("b", shared.secret)
    keys = KeyRing(shared, [same_secret_other_id])
    token = keys.encrypt(SEED, AD)
    with pytest.raises(DecryptionFailed):
        keys.decrypt(token.replace("v1:a:", "v1:b:"), AD)


def test_another_key_cannot_decrypt() -> None:
    token = ring("k1").encrypt(SEED, AD)
    with pytest.raises(DecryptionFailed):
        ring("k1").decrypt(token, AD)  # same id, different secret


def test_unknown_key_id() -> None:
    token = ring("old").encrypt(SEED, AD)
    with pytest.raises(UnknownKeyId) as caught:
        ring("new").decrypt(token, AD)
    assert isinstance(caught.value, CryptoError)
    assert "'old'" in str(caught.value)


def test_rotation() -> None:
    old = EncryptionKey.generate("2024")
    token = KeyRing(old).encrypt(SEED, AD)
    rotated = KeyRing(EncryptionKey.generate("2025"), [old])
    assert rotated.decrypt(token, AD) == SEED
    assert rotated.needs_reencrypt(token)
    moved = rotated.reencrypt(token, AD)
    assert rotated.key_id_of(moved) == "2025"
    assert not rotated.needs_reencrypt(moved)
    assert KeyRing(rotated.current).decrypt(moved, AD) == SEED


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1:k1",
        "v2:k1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA",
        "v1:k1:short:AAAA",
        "x" * 2_000_000,
    ],
)
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(DecryptionFailed):
        ring().decrypt(token, AD)


_RING = ring()
_TOKEN = _RING.encrypt(SEED, AD)


@given(st.text(max_size=200))
def test_any_text_decrypts_or_raises_a_crypto_error(token: str) -> None:
    with pytest.raises(CryptoError):
        _RING.decrypt(token, AD)


@given(st.integers(min_value=0, max_value=len(_TOKEN) - 1), st.characters())
def test_any_single_character_change_is_refused(position: int, char: str) -> None:
    changed = _TOKEN[:position] + char + _TOKEN[position + 1 :]
    if changed == _TOKEN:
        assert _RING.decrypt(changed, AD) == SEED
    else:
        with pytest.raises(CryptoError):
            _RING.decrypt(changed, AD)


def test_key_must_be_exactly_32_bytes() -> None:
    for size in (16, 31, 33, 64):
        with pytest.raises(ConfigurationError):
            EncryptionKey("k", secrets.token_bytes(size))


def test_key_ring_from_spec() -> None:
    new, old = secrets.token_bytes(32), secrets.token_bytes(32)
    spec = f"new:{base64.b64encode(new).decode()}, old:{base64.urlsafe_b64encode(old).decode()}"
    keys = KeyRing.from_spec(spec)
    assert keys.key_ids == ("new", "old")
    assert keys.current.secret == new
    assert keys.get("old") is not None


def test_repr_hides_key_material() -> None:
    key = EncryptionKey.generate("k1")
    keys = KeyRing(key)
    for text in (repr(key), repr(keys), str(key)):
        assert key.secret.hex() not in text
        assert repr(key.secret) not in text
        assert base64.b64encode(key.secret).decode() not in text
    assert repr(key) == "EncryptionKey(key_id='k1', secret=<hidden>)"
