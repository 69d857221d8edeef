"""Package-wide promises: one exception root, a public surface, no secrets in reprs."""

from __future__ import annotations

import base64
import inspect

import pytest

import libs.security
from libs.security import (
    ConfigurationError,
    KeyRing,
    Pepper,
    PepperRing,
    SecurityError,
    SigningKeyRing,
    errors,
)


def test_every_exception_derives_from_the_one_root() -> None:
    classes = [obj for _, obj in inspect.getmembers(errors, inspect.isclass)]
    ours = [cls for cls in classes if cls.__module__ == errors.__name__]
    assert len(ours) == len(errors.__all__)
    for cls in ours:
        assert issubclass(cls, SecurityError), cls


def test_the_tree_in_the_docstring_names_every_exception() -> None:
    for name in errors.__all__:
        assert name in (errors.__doc__ or ""), name


def test_public_surface_is_importable_and_documented() -> None:
    for name in libs.security.__all__:
        obj = getattr(libs.security, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, name


@pytest.mark.parametrize("ring_type", [PepperRing, KeyRing, SigningKeyRing])
def test_rings_from_spec_never_echo_secrets(ring_type: type[PepperRing]) -> None:
    secret_text = base64.b64encode(b"s" * 32).decode()
    with pytest.raises(ConfigurationError) as caught:
        ring_type.from_spec(f"a:{secret_text},a:{secret_text}")  # duplicate id
    assert secret_text not in str(caught.value)
    with pytest.raises(ConfigurationError) as bad:
        ring_type.from_spec(f"a:{secret_text}!!")
    assert secret_text not in str(bad.value)
    with pytest.raises(ConfigurationError):
        ring_type.from_spec(secret_text)  # no id
    with pytest.raises(ConfigurationError):
        ring_type.from_spec("")


def test_pepper_validation_and_repr() -> None:
    with pytest.raises(ConfigurationError):
        Pepper("p1", b"short")
    for bad_id in ("", "has space", "a$b", "a:b", "-leading", "x" * 65):
        with pytest.raises(ConfigurationError):
            Pepper(bad_id, b"s" * 32)
    pepper = Pepper("p1", b"\x01" * 32)
    ring = PepperRing(pepper)
    for text in (repr(pepper), str(pepper), repr(ring)):
        assert "\\x01" not in text
        assert base64.b64encode(pepper.secret).decode() not in text
    assert repr(ring) == "PepperRing(current='p1', older=())"


def test_pepper_from_base64_accepts_a_secret_file_with_a_newline() -> None:
    secret = bytes(range(32))
    assert Pepper.from_base64("p", base64.b64encode(secret).decode() + "\n").secret == secret
    urlsafe = base64.urlsafe_b64encode(secret).rstrip(b"=").decode()
    assert Pepper.from_base64("p", urlsafe).secret == secret
