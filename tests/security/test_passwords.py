"""Password hashing: pepper, seasoning, rotation, cost, normalisation, no truncation."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Callable

import argon2
import pytest
from argon2.exceptions import VerifyMismatchError
from argon2.low_level import Type, hash_secret, verify_secret
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.security import (
    ArgonCost,
    ConfigurationError,
    PasswordRejected,
    PasswordService,
    Pepper,
    PepperRing,
    ViolationCode,
)
from libs.security.policy import MAX_PASSWORD_CHARS
from tests.security.conftest import pepper_ring

EMAIL = "Alice.Example@Carrier.test"
PASSWORD = "correct horse battery staple"


def embedded_argon2(stored: str) -> str:
    """The plain Argon2 encoded hash inside a Tandem hash string."""
    return "$argon2id$" + stored.split("$argon2id$", 1)[1]


def test_round_trip(service: PasswordService) -> None:
    stored = service.hash(PASSWORD, EMAIL)
    assert service.verify(stored, PASSWORD, EMAIL) is True
    assert service.verify(stored, PASSWORD + "!", EMAIL) is False
    assert service.verify(stored, "Correct horse battery staple", EMAIL) is False


def test_stored_string_records_version_pepper_id_and_cost(service: PasswordService) -> None:
    stored = service.hash(PASSWORD, EMAIL)
    assert stored.startswith("$tandem$v=1$kid=p1$argon2id$v=19$m=1024,t=1,p=1$")
    assert PASSWORD not in stored


def test_each_hash_has_its_own_random_salt(service: PasswordService) -> None:
    first, second = service.hash(PASSWORD, EMAIL), service.hash(PASSWORD, EMAIL)
    assert first != second
    assert service.verify(first, PASSWORD, EMAIL)
    assert service.verify(second, PASSWORD, EMAIL)


def test_email_is_normalised_for_seasoning(service: PasswordService) -> None:
    stored = service.hash(PASSWORD, EMAIL)
    assert service.verify(stored, PASSWORD, "  alice.example@CARRIER.TEST ")


def test_seasoning_binds_the_hash_to_its_account(service: PasswordService) -> None:
    """A hash copied onto another account's row does not verify there."""
    stored = service.hash(PASSWORD, EMAIL)
    assert service.verify(stored, PASSWORD, "mallory@carrier.test") is False


def test_without_the_pepper_the_right_password_does_not_verify(
    service: PasswordService, peppers: PepperRing
) -> None:
    stored = service.hash(PASSWORD, EMAIL)

    # An attacker with the database (stored hash, email) but another secret under the same id.
    guessed_pepper = PepperRing(Pepper("p1", b"\x00" * 32))
    attacker = PasswordService(guessed_pepper, ArgonCost.cheap())
    assert attacker.verify(stored, PASSWORD, EMAIL) is False

    # Plain Argon2 on the embedded hash, with the password alone...
    encoded = embedded_argon2(stored)
    with pytest.raises(VerifyMismatchError):
        argon2.PasswordHasher().verify(encoded, PASSWORD)
    # ...or with everything derivable without the pepper (seasoning + password).
    seasoning = hashlib.sha256(
        b"tandem.password.seasoning.v1\x00" + EMAIL.lower().encode()
    ).digest()
    with pytest.raises(VerifyMismatchError):
        verify_secret(encoded.encode(), seasoning + PASSWORD.encode(), Type.ID)

    # The holder of the real pepper (loaded again, as from the secret file) verifies.
    reloaded = PepperRing(Pepper("p1", peppers.current.secret))
    assert PasswordService(reloaded, ArgonCost.cheap()).verify(stored, PASSWORD, EMAIL) is True


def test_rotation_old_pepper_verifies_and_asks_for_rehash() -> None:
    old, new = Pepper.generate("A"), Pepper.generate("B")
    stored = PasswordService(PepperRing(old), ArgonCost.cheap()).hash(PASSWORD, EMAIL)

    rotated = PasswordService(PepperRing(new, [old]), ArgonCost.cheap())
    assert rotated.verify(stored, PASSWORD, EMAIL) is True
    assert rotated.needs_rehash(stored) is True

    rehashed = rotated.hash(PASSWORD, EMAIL)
    assert rehashed.startswith("$tandem$v=1$kid=B$")
    assert rotated.needs_rehash(rehashed) is False
    assert rotated.verify(rehashed, PASSWORD, EMAIL) is True

    # Once A leaves the ring, hashes still under A no longer verify.
    retired = PasswordService(PepperRing(new), ArgonCost.cheap())
    assert retired.verify(stored, PASSWORD, EMAIL) is False
    assert retired.verify(rehashed, PASSWORD, EMAIL) is True


def test_unknown_pepper_id_is_false_and_logged_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = Pepper.generate("gone")
    stored = PasswordService(PepperRing(other), ArgonCost.cheap()).hash(PASSWORD, EMAIL)
    service = PasswordService(pepper_ring("p1"), ArgonCost.cheap())
    with caplog.at_level(logging.WARNING, logger="libs.security.passwords"):
        assert service.verify(stored, PASSWORD, EMAIL) is False
    assert "'gone'" in caplog.text
    assert PASSWORD not in caplog.text
    assert base64.b64encode(other.secret).decode() not in caplog.text


@pytest.mark.parametrize(
    "new_cost",
    [
        ArgonCost(time_cost=2, memory_cost=1024, parallelism=1),
        ArgonCost(time_cost=1, memory_cost=2048, parallelism=1),
        ArgonCost(time_cost=1, memory_cost=1024, parallelism=2),
        ArgonCost(time_cost=1, memory_cost=1024, parallelism=1, hash_len=64),
        ArgonCost(time_cost=1, memory_cost=1024, parallelism=1, salt_len=32),
    ],
)
def test_needs_rehash_when_cost_changes(peppers: PepperRing, new_cost: ArgonCost) -> None:
    stored = PasswordService(peppers, ArgonCost.cheap()).hash(PASSWORD, EMAIL)
    upgraded = PasswordService(peppers, new_cost)
    assert upgraded.verify(stored, PASSWORD, EMAIL) is True
    assert upgraded.needs_rehash(stored) is True
    assert upgraded.needs_rehash(upgraded.hash(PASSWORD, EMAIL)) is False


def test_no_rehash_needed_for_current_parameters(service: PasswordService) -> None:
    assert service.needs_rehash(service.hash(PASSWORD, EMAIL)) is False


def _valid(service: PasswordService) -> str:
    return service.hash(PASSWORD, EMAIL)


MALFORMED: list[Callable[[str], object]] = [
    lambda ok: "",
    lambda ok: "garbage",
    lambda ok: None,
    lambda ok: ok.encode(),
    lambda ok: embedded_argon2(ok),  # plain argon2, no Tandem header
    lambda ok: ok.replace("$tandem$v=1$", "$tandem$v=2$"),
    lambda ok: ok.replace("$argon2id$", "$argon2i$"),
    lambda ok: ok.replace("$argon2id$v=19$", "$argon2id$v=16$"),
    lambda ok: ok[:-10],
    lambda ok: ok + "A",
    lambda ok: ok.replace("m=1024", "m=999999999"),  # would allocate ~1 TB
    lambda ok: ok.replace("t=1,", "t=100000,"),
    lambda ok: ok.replace("m=1024", "m=٣"),  # a non-ASCII digit that int() accepts
    lambda ok: ok.replace("kid=p1", "kid=p 1"),
    lambda ok: ok + "x" * 1000,
]


@pytest.mark.parametrize("corrupt", MALFORMED)
def test_malformed_stored_hash_is_false_not_an_exception(
    service: PasswordService, corrupt: Callable[[str], object]
) -> None:
    stored = corrupt(_valid(service))
    assert service.verify(stored, PASSWORD, EMAIL) is False  # type: ignore[arg-type]
    assert service.needs_rehash(stored) is True  # type: ignore[arg-type]


_SHARED = PasswordService(pepper_ring("h1"), ArgonCost.cheap())
_SHARED_STORED = _SHARED.hash(PASSWORD, EMAIL)


# No deadline: these examples run Argon2 or the dictionary on purpose.
@settings(deadline=None)
@given(st.text(max_size=300))
def test_any_text_as_stored_hash_is_false(stored: str) -> None:
    assert _SHARED.verify(stored, PASSWORD, EMAIL) is False


# No deadline: these examples run Argon2 or the dictionary on purpose.
@settings(deadline=None)
@given(st.integers(min_value=0, max_value=len(_SHARED_STORED) - 1), st.characters())
def test_any_single_character_change_is_false(position: int, char: str) -> None:
    changed = _SHARED_STORED[:position] + char + _SHARED_STORED[position + 1 :]
    expected = changed == _SHARED_STORED
    assert _SHARED.verify(changed, PASSWORD, EMAIL) is expected


def test_dummy_verify_costs_about_a_real_verification(peppers: PepperRing) -> None:
    # A cost high enough (16 MiB) that Argon2, not Python overhead, dominates the timing.
    service = PasswordService(peppers, ArgonCost(time_cost=1, memory_cost=16 * 1024, parallelism=1))
    stored = service.hash(PASSWORD, EMAIL)

    actions: dict[str, Callable[[], object]] = {
        "real": lambda: service.verify(stored, "wrong password", EMAIL),
        "dummy": lambda: service.dummy_verify("wrong password"),
        "malformed": lambda: service.verify("!", "wrong password", EMAIL),
    }
    # Interleaved rounds, and the fastest of each: a load spike on a busy machine slows one
    # sample, never a whole kind, and the minimum is the least noisy estimate of the work.
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(7):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            samples[name].append(time.perf_counter() - start)
    real, dummy, malformed = (min(samples[name]) for name in actions)
    assert service.dummy_verify(PASSWORD) is False
    for other in (dummy, malformed):
        assert real / 4 < other < real * 4, (real, dummy, malformed)


def test_nfkc_equivalent_forms_verify_the_same(service: PasswordService) -> None:
    composed = "caf\u00e9 au lait tous les matins"
    decomposed = "cafe\u0301 au lait tous les matins"
    stored = service.hash(composed, EMAIL)
    assert service.verify(stored, decomposed, EMAIL)

    fullwidth = "\uff30\uff41\uff53\uff53 phrase with full-width letters"
    assert service.verify(
        service.hash(fullwidth, EMAIL), "Pass phrase with full-width letters", EMAIL
    )


def test_case_is_significant(service: PasswordService) -> None:
    stored = service.hash("Tr0ub4dor&3 is not enough", EMAIL)
    assert not service.verify(stored, "tr0ub4dor&3 is not enough", EMAIL)


@pytest.mark.parametrize(
    ("unit", "length"),
    [("x", 100), ("é", 80), ("🔒", 50), ("x", 1000)],  # all far beyond bcrypt's 72 bytes
)
def test_long_passwords_are_never_truncated(
    service: PasswordService, unit: str, length: int
) -> None:
    first = unit * length + "a"
    second = unit * length + "b"
    assert len(first.encode()) > 72
    stored = service.hash(first, EMAIL)
    assert service.verify(stored, first, EMAIL)
    assert not service.verify(stored, second, EMAIL)
    assert not service.verify(stored, first[:-1], EMAIL)


def test_spaces_and_unicode_are_kept(service: PasswordService) -> None:
    password = "  leading and trailing spaces, пароль, 密码, 🔑  "
    stored = service.hash(password, EMAIL)
    assert service.verify(stored, password, EMAIL)
    assert not service.verify(stored, password.strip(), EMAIL)


def test_lone_surrogate_hashes_instead_of_raising(service: PasswordService) -> None:
    stored = service.hash("broken \ud800 surrogate", EMAIL)
    assert service.verify(stored, "broken \ud800 surrogate", EMAIL)
    assert not service.verify(stored, "broken \ud801 surrogate", EMAIL)


def test_hash_refuses_the_empty_password_and_the_hard_ceiling(service: PasswordService) -> None:
    with pytest.raises(PasswordRejected) as empty:
        service.hash("", EMAIL)
    assert [reason.code for reason in empty.value.reasons] == [ViolationCode.TOO_SHORT]
    with pytest.raises(PasswordRejected) as huge:
        service.hash("x" * (MAX_PASSWORD_CHARS + 1), EMAIL)
    assert [reason.code for reason in huge.value.reasons] == [ViolationCode.TOO_LONG]
    assert service.verify(_valid(service), "x" * (MAX_PASSWORD_CHARS + 1), EMAIL) is False
    service.hash("x" * MAX_PASSWORD_CHARS, EMAIL)  # the ceiling itself is fine


def test_default_cost_is_rfc9106_second_recommendation(peppers: PepperRing) -> None:
    cost = ArgonCost()
    assert (cost.time_cost, cost.memory_cost, cost.parallelism) == (3, 64 * 1024, 4)
    assert (cost.hash_len, cost.salt_len) == (32, 16)
    service = PasswordService(peppers)
    stored = service.hash(PASSWORD, EMAIL)
    assert "$argon2id$v=19$m=65536,t=3,p=4$" in stored
    assert service.verify(stored, PASSWORD, EMAIL)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"time_cost": 0},
        {"parallelism": 0},
        {"memory_cost": 7, "parallelism": 1},
        {"memory_cost": 16, "parallelism": 4},
        {"memory_cost": 8 * 1024 * 1024},
        {"hash_len": 8},
        {"salt_len": 8},
    ],
)
def test_argon_cost_refuses_unusable_values(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        ArgonCost(**kwargs)


def test_other_argon2_software_can_read_the_embedded_hash_parameters(
    service: PasswordService,
) -> None:
    params = argon2.extract_parameters(embedded_argon2(service.hash(PASSWORD, EMAIL)))
    assert params.type is Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (1, 1024, 1)
    assert (params.salt_len, params.hash_len) == (16, 32)


def test_a_hash_made_by_plain_argon2_is_not_accepted(service: PasswordService) -> None:
    plain = hash_secret(PASSWORD.encode(), b"0123456789abcdef", 1, 1024, 1, 32, Type.ID).decode()
    assert service.verify("$tandem$v=1$kid=p1" + plain, PASSWORD, EMAIL) is False
