"""NIST SP 800-63B password rules."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.security import (
    ConfigurationError,
    PasswordPolicy,
    PasswordRejected,
    SecretOrigin,
    SecurityError,
    ViolationCode,
    generate_secret,
)
from libs.security.policy import is_known_password, known_passwords

POLICY = PasswordPolicy()
EMAIL = "john.smith@acme-telecom.example"


def codes(password: str, **context: object) -> set[ViolationCode]:
    return set(POLICY.check(password, **context).codes)  # type: ignore[arg-type]


def test_person_chosen_needs_eight_characters() -> None:
    assert codes("vq7#kzp") == {ViolationCode.TOO_SHORT}
    assert codes("vq7#kzpw") == set()


def test_machine_generated_needs_six_characters() -> None:
    assert codes("vq7#k", origin=SecretOrigin.MACHINE) == {ViolationCode.TOO_SHORT}
    assert codes("vq7#kz", origin=SecretOrigin.MACHINE) == set()
    assert codes("vq7#kz", origin=SecretOrigin.PERSON) == {ViolationCode.TOO_SHORT}


@pytest.mark.parametrize("length", [64, 200, 256])
def test_long_passwords_are_accepted(length: int) -> None:
    password = (generate_secret(256) + " ")[:length]
    assert codes(password) == set()


def test_over_the_maximum_is_refused_not_truncated() -> None:
    assert codes("a9" * 128 + "x") == {ViolationCode.TOO_LONG}


def test_spaces_and_unicode_are_accepted() -> None:
    assert codes("correct horse battery staple") == set()
    assert codes("пароль для входа") == set()
    assert codes("我的密码很长很长") == set()
    assert codes("🔑🚪🐈‍⬛🌧️ rainy door") == set()
    assert codes("        ") != set()  # eight spaces: a repeated character


def test_length_is_counted_after_nfkc() -> None:
    # Seven letters with combining accents are 14 code points, but 7 characters after NFKC.
    decomposed = "".join(letter + "\u0301" for letter in "aeiouyc")
    assert len(decomposed) == 14
    assert codes(decomposed) == {ViolationCode.TOO_SHORT}
    # U+FDFA expands to 18 characters under NFKC: it counts as 18.
    assert codes("\ufdfa") == set()


def test_known_breached_passwords_are_refused() -> None:
    assert "password123" in known_passwords()
    for password in ("password123", "PASSWORD123", "iloveyou", "trustno1", "qwerty123"):
        assert ViolationCode.KNOWN_PASSWORD in codes(password), password
    assert is_known_password("\uff30\uff41\uff53\uff53\uff57\uff4f\uff52\uff44123")  # full-width


def test_the_known_password_list_is_real_and_loaded_once() -> None:
    words = known_passwords()
    assert len(words) > 25_000
    assert known_passwords() is words
    assert all(word == word.casefold() for word in words)


@pytest.mark.parametrize(
    "password",
    [
        "john.smith@acme-telecom.example",
        "JohnSmith2024",
        "my name is smith!",
        "acme-telecom rocks",
        "ACME forever 99",
        "tandem softswitch",
        "I love TANDEM",
        "jsmith77-login",
    ],
)
def test_context_words_are_refused(password: str) -> None:
    assert ViolationCode.CONTEXT_WORD in codes(password, email=EMAIL, username="jsmith77")


def test_short_context_words_are_only_refused_when_equal() -> None:
    # User "jo": a password containing "jo" is fine, the password "jo..." alone is not.
    assert codes("enjoy the journey home", username="jo") == set()
    assert ViolationCode.CONTEXT_WORD in codes("jo", username="jo", origin=SecretOrigin.MACHINE)


def test_extra_context_words() -> None:
    assert ViolationCode.CONTEXT_WORD in codes("globex rules", context_words=["Globex"])


def test_generic_mail_domain_labels_are_not_context_words() -> None:
    assert codes("my email is private", email="someone@mail.example") == set()


@pytest.mark.parametrize("password", ["aaaaaaaa", "abcabcab", "passpass", "abcdefgh", "98765432"])
def test_repetitive_or_sequential_passwords_are_refused(password: str) -> None:
    assert ViolationCode.REPETITIVE in codes(password)


def test_no_composition_rules() -> None:
    assert codes("all lower case letters only") == set()
    assert codes("59183620475") == set()


def test_lone_surrogates_are_refused() -> None:
    assert ViolationCode.INVALID_CHARACTERS in codes("valid text \ud800 here")


def test_every_violation_is_reported_at_once() -> None:
    assert codes("tandem1", email=EMAIL) == {ViolationCode.TOO_SHORT, ViolationCode.CONTEXT_WORD}


def test_enforce_raises_with_reasons_and_no_password_in_the_message() -> None:
    with pytest.raises(PasswordRejected) as caught:
        POLICY.enforce("password123", email=EMAIL)
    error = caught.value
    assert isinstance(error, SecurityError)
    assert isinstance(error, ValueError)
    assert [reason.code for reason in error.reasons] == [ViolationCode.KNOWN_PASSWORD]
    assert all(reason.message for reason in error.reasons)
    assert "password123" not in str(error)
    assert "password123" not in repr(error)
    assert str(error) == "password rejected: known_password"


def test_enforce_accepts_a_good_password() -> None:
    POLICY.enforce("correct horse battery staple", email=EMAIL, username="jsmith")


def test_policy_refuses_non_nist_configuration() -> None:
    with pytest.raises(ConfigurationError):
        PasswordPolicy(max_length=63)
    with pytest.raises(ConfigurationError):
        PasswordPolicy(min_length_machine=9, min_length_person=8)


def test_generate_secret_defaults_to_128_bits_or_more() -> None:
    secret = generate_secret()
    assert len(secret) == 22  # 22 x 6 bits = 132 bits
    assert set(secret) <= set(string.ascii_letters + string.digits + "-_")
    assert len({generate_secret() for _ in range(100)}) == 100


def test_generate_secret_lengths() -> None:
    assert len(generate_secret(6)) == 6
    assert codes(generate_secret(6), origin=SecretOrigin.MACHINE) <= {ViolationCode.KNOWN_PASSWORD}
    with pytest.raises(ConfigurationError):
        generate_secret(5)


# No deadline: these examples run Argon2 or the dictionary on purpose.
@settings(deadline=None)
@given(st.text(max_size=300), st.emails(), st.text(max_size=40))
def test_check_accepts_or_rejects_any_input_cleanly(
    password: str, email: str, username: str
) -> None:
    result = POLICY.check(password, email=email, username=username)
    assert result.ok == (not result.violations)
    assert all(isinstance(reason.code, ViolationCode) for reason in result.violations)
