"""Strict, canonical base64url without padding (RFC 4648 §5), shared by the token formats."""

from __future__ import annotations

import base64
import binascii
import re

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Encode ``data`` as base64url without ``=`` padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes | None:
    """Decode unpadded base64url; ``None`` unless ``text`` is the canonical encoding.

    Refusing non-canonical spellings (stray padding, unused low bits set) means one byte string
    has exactly one textual form, so a token cannot be altered without changing its bytes.
    """
    if len(text) % 4 == 1 or _B64URL.fullmatch(text) is None:
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if b64url_encode(data) != text:
        return None
    return data
