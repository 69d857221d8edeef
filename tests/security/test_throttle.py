"""The login delay and lockout schedule."""

from __future__ import annotations

import pytest

from libs.security import (
    ConfigurationError,
    DecisionReason,
    ThrottlePolicy,
    ThrottleState,
    throttle,
)

T0 = 1_000_000.0


def after_failures(count: int, *, start: float = T0, spacing: float = 0.0) -> ThrottleState:
    """The state after ``count`` failures, ``spacing`` seconds apart from ``start``."""
    state = ThrottleState()
    for index in range(count):
        state = throttle.record_failure(state, start + index * spacing)
    return state


def test_the_exact_delay_schedule() -> None:
    delays = [throttle.delay_after(n) for n in range(12)]
    assert delays == [0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256]


def test_delays_are_capped_at_fifteen_minutes() -> None:
    assert throttle.delay_after(12) == 512
    assert throttle.delay_after(13) == 900  # 1024, capped
    assert throttle.delay_after(14) == 900
    assert throttle.delay_after(10**9) == 900


def test_lockout_only_from_ten_failures() -> None:
    assert [throttle.is_locked(n) for n in (0, 1, 5, 9)] == [False] * 4
    assert throttle.is_locked(10)
    assert throttle.is_locked(11)
    assert after_failures(9).locked_until is None
    assert after_failures(10).locked_until == T0 + 900


@pytest.mark.parametrize(
    ("failures", "retry_after", "reason"),
    [
        (0, 0, DecisionReason.ALLOWED),
        (1, 0, DecisionReason.ALLOWED),
        (2, 0, DecisionReason.ALLOWED),
        (3, 1, DecisionReason.DELAYED),
        (4, 2, DecisionReason.DELAYED),
        (5, 4, DecisionReason.DELAYED),
        (8, 32, DecisionReason.DELAYED),
        (9, 64, DecisionReason.DELAYED),
        (10, 900, DecisionReason.LOCKED),
        (15, 900, DecisionReason.LOCKED),
    ],
)
def test_retry_after_right_after_the_last_failure(
    failures: int, retry_after: int, reason: DecisionReason
) -> None:
    decision = throttle.check(after_failures(failures), T0)
    assert decision.retry_after_seconds == retry_after
    assert decision.reason is reason
    assert decision.allowed is (retry_after == 0)


def test_retry_after_counts_down_and_rounds_up() -> None:
    state = after_failures(6)  # 8 s delay
    assert throttle.check(state, T0 + 0.5).retry_after_seconds == 8
    assert throttle.check(state, T0 + 3.0).retry_after_seconds == 5
    assert throttle.check(state, T0 + 7.9).retry_after_seconds == 1
    assert throttle.check(state, T0 + 8.0).allowed


def test_fractional_times_do_not_add_a_second() -> None:
    state = after_failures(5, start=T0 + 0.3)  # 4 s delay from a fractional time
    assert throttle.check(state, T0 + 0.3).retry_after_seconds == 4


def test_next_allowed_at() -> None:
    assert throttle.next_allowed_at(2, T0) == T0
    assert throttle.next_allowed_at(4, T0) == T0 + 2
    assert throttle.next_allowed_at(10, T0) == T0 + 900


def test_lockout_is_bounded() -> None:
    state = after_failures(10)
    assert not throttle.check(state, T0 + 899).allowed
    assert throttle.check(state, T0 + 900).allowed
    # Each further failure locks again, for the same bounded time.
    state = throttle.record_failure(state, T0 + 900)
    assert state.failures == 11
    assert throttle.check(state, T0 + 901).retry_after_seconds == 899
    assert throttle.check(state, T0 + 1800).allowed


def test_success_resets_everything() -> None:
    assert throttle.record_success() == ThrottleState()
    assert throttle.check(throttle.record_success(), T0).allowed


def test_old_failures_are_forgotten_after_a_day() -> None:
    state = after_failures(9)
    later = T0 + 86_400
    assert throttle.check(state, later).allowed
    assert throttle.record_failure(state, later).failures == 1


def test_state_is_immutable() -> None:
    state = ThrottleState()
    throttle.record_failure(state, T0)
    assert state == ThrottleState()


def test_custom_policy() -> None:
    policy = ThrottlePolicy(free_failures=0, base_delay=2, max_delay=10, lockout_threshold=20)
    assert [throttle.delay_after(n, policy) for n in range(1, 6)] == [2, 4, 8, 10, 10]
    assert not throttle.is_locked(19, policy)
    assert throttle.is_locked(20, policy)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lockout_threshold": 9},
        {"base_delay": 0},
        {"max_delay": 0.5},
        {"lockout_seconds": 0},
        {"lockout_seconds": 100_000},
        {"free_failures": -1},
    ],
)
def test_policy_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        ThrottlePolicy(**kwargs)  # type: ignore[arg-type]
