"""RFC 6238 TOTP with replay refusal, enrolment URI and QR image, recovery codes."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.security import TotpError, totp

# RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
NOW = 1_700_000_000.0  # in the middle of a 30 s step (1_699_999_980 .. 1_700_000_010)


def code_at(secret: str, step: int) -> str:
    """The code an authenticator app shows during ``step`` (computed by pyotp directly)."""
    return pyotp.TOTP(secret).at(step * 30)


@pytest.mark.parametrize(
    ("unix_time", "eight_digit_code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
    ],
)
def test_rfc6238_appendix_b_vectors(unix_time: int, eight_digit_code: str) -> None:
    # The RFC lists 8-digit codes; the 6-digit code is its last six digits (RFC 4226 §5.3).
    assert totp.verify(RFC_SECRET, eight_digit_code[-6:], now=unix_time, last_used_step=None) == (
        unix_time // 30
    )


def test_new_secret_is_160_bits_of_base32() -> None:
    secret = totp.new_secret()
    assert len(base64.b32decode(secret)) == 20
    assert secret != totp.new_secret()


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_current_step_and_one_either_side_are_accepted(offset: int) -> None:
    secret = totp.new_secret()
    step = totp.time_step(NOW) + offset
    assert totp.verify(secret, code_at(secret, step), now=NOW, last_used_step=None) == step


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_two_steps_away_is_refused(offset: int) -> None:
    secret = totp.new_secret()
    step = totp.time_step(NOW) + offset
    code = code_at(secret, step)
    window = {code_at(secret, totp.time_step(NOW) + near) for near in (-1, 0, 1)}
    if code in window:  # a one-in-a-million collision with a valid code; not this test's point
        pytest.skip("code collides with a code in the window")
    assert totp.verify(secret, code, now=NOW, last_used_step=None) is None


def test_the_same_step_cannot_be_used_twice() -> None:
    secret = totp.new_secret()
    code = code_at(secret, totp.time_step(NOW))
    used = totp.verify(secret, code, now=NOW, last_used_step=None)
    assert used == totp.time_step(NOW)
    assert totp.verify(secret, code, now=NOW, last_used_step=used) is None
    assert totp.verify(secret, code, now=NOW + 5, last_used_step=used) is None


def test_an_older_code_is_refused_after_a_newer_one() -> None:
    secret = totp.new_secret()
    current = totp.time_step(NOW)
    used = totp.verify(secret, code_at(secret, current), now=NOW, last_used_step=None)
    assert totp.verify(secret, code_at(secret, current - 1), now=NOW, last_used_step=used) is None
    # The next step's code is still fine.
    later = totp.verify(secret, code_at(secret, current + 1), now=NOW + 30, last_used_step=used)
    assert later == current + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "123456\n"])
def test_malformed_codes_are_refused(code: str) -> None:
    assert totp.verify(totp.new_secret(), code, now=NOW, last_used_step=None) is None


def test_spaces_in_the_code_are_ignored() -> None:
    secret = totp.new_secret()
    code = code_at(secret, totp.time_step(NOW))
    assert totp.verify(secret, f"{code[:3]} {code[3:]}", now=NOW, last_used_step=None) is not None


@pytest.mark.parametrize("secret", ["not base32!", "abcdefghijklmnop", "A" * 17, ""])
def test_a_bad_secret_raises_without_showing_it(secret: str) -> None:
    with pytest.raises(TotpError) as caught:
        totp.verify(secret, "123456", now=NOW, last_used_step=None)
    if secret:
        assert secret not in str(caught.value)


@given(st.text(max_size=20), st.integers(min_value=0, max_value=2**40))
def test_any_code_is_accepted_or_refused_cleanly(code: str, now: int) -> None:
    result = totp.verify(RFC_SECRET, code, now=now, last_used_step=None)
    assert result is None or abs(result - now // 30) <= 1


def test_provisioning_uri_for_authenticator_apps() -> None:
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, "alice@carrier.test")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/Tandem:alice%40carrier.test"
    query = parse_qs(parts.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["Tandem"]
    # An app enrolled from the URI produces codes that verify.
    app = pyotp.parse_uri(uri)
    assert isinstance(app, pyotp.TOTP)
    assert totp.verify(secret, app.at(NOW), now=NOW, last_used_step=None) is not None


def test_qr_png_of_the_uri() -> None:
    uri = totp.provisioning_uri(totp.new_secret(), "alice@carrier.test", issuer="Acme Voice")
    png = totp.provisioning_qr_png(uri)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png != totp.provisioning_qr_png(totp.provisioning_uri(totp.new_secret(), "bob"))
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == height >= 25 * 5  # at least a version-2 symbol at scale 5


def test_ten_distinct_recovery_codes_by_default() -> None:
    generated = totp.generate_recovery_codes()
    assert len(generated.codes) == len(set(generated.codes)) == 10
    assert len(generated.hashes) == len(set(generated.hashes)) == 10
    for code in generated.codes:
        assert len(code) == 19
        assert code.count("-") == 3
    assert all(code not in repr(generated) for code in generated.codes)


def test_recovery_codes_are_single_use_by_removing_the_matched_hash() -> None:
    generated = totp.generate_recovery_codes()
    stored = list(generated.hashes)
    code = generated.codes[3]
    index = totp.match_recovery_code(code, stored)
    assert index == 3
    del stored[index]  # what the caller does
    assert totp.match_recovery_code(code, stored) is None
    # The others still work.
    assert totp.match_recovery_code(generated.codes[4], stored) == 3


def test_recovery_code_input_is_forgiving() -> None:
    generated = totp.generate_recovery_codes(1)
    code = generated.codes[0]
    sloppy = " " + code.lower().replace("-", " ").replace("0", "o").replace("1", "l") + " "
    assert totp.match_recovery_code(sloppy, generated.hashes) == 0


@pytest.mark.parametrize("attempt", ["", "0000-0000-0000-0000", "not a code", "AAAA-AAAA-AAAA"])
def test_wrong_recovery_codes_match_nothing(attempt: str) -> None:
    assert totp.match_recovery_code(attempt, totp.generate_recovery_codes().hashes) is None


def test_corrupt_stored_recovery_hashes_are_skipped() -> None:
    generated = totp.generate_recovery_codes(2)
    stored = ["", "zz", generated.hashes[1]]
    assert totp.match_recovery_code(generated.codes[1], stored) == 2
    assert totp.match_recovery_code(generated.codes[0], stored) is None
