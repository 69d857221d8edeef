"""Login throttling as pure functions: exponential delay, then a bounded lockout.

NIST SP 800-63B §5.2.2 requires rate limiting of consecutive failed attempts on one account and
suggests growing delays rather than early lockouts; Tandem's design locks an account only after
at least 10 consecutive failures, and only for a bounded time. The default schedule:

=====================  ==========================================
consecutive failures   the next attempt is allowed
=====================  ==========================================
1-2                    at once
3, 4, 5 ... 9          1 s, 2 s, 4 s ... 64 s after the last failure
10 and more            locked: 15 minutes after the last failure
=====================  ==========================================

Delays double from ``base_delay`` and never exceed ``max_delay``; a lockout always ends
``lockout_seconds`` after the failure that caused it, so it is bounded. Each further failure
after the lockout ends locks again, so a guesser gets about four tries an hour. (NIST's
ceiling of 100 consecutive failures before another way of unlocking is the caller's to add if
wanted: ``ThrottleState.failures`` keeps counting.) Failures older
than ``forget_after`` (a day) no longer count: a typo today does not lock an account because
of failures last month. A success resets everything.

No storage and no clock: the caller keeps a :class:`ThrottleState` per account and one per
source address, passes ``now``, and checks both before checking the password. An attempt that
:func:`check` refuses is not a failure (the password was not tried): do not record it, but do
report it to the audit log and security events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from libs.security.errors import ConfigurationError

__all__ = [
    "DEFAULT_POLICY",
    "Decision",
    "DecisionReason",
    "ThrottlePolicy",
    "ThrottleState",
    "check",
    "delay_after",
    "is_locked",
    "next_allowed_at",
    "record_failure",
    "record_success",
]


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """The schedule; the defaults are the table in the module docstring."""

    free_failures: int = 2
    base_delay: float = 1.0
    max_delay: float = 900.0
    lockout_threshold: int = 10
    lockout_seconds: float = 900.0
    forget_after: float = 86400.0

    def __post_init__(self) -> None:
        if self.free_failures < 0 or self.base_delay <= 0:
            raise ConfigurationError("need free_failures >= 0 and base_delay > 0")
        if self.lockout_threshold < 10:
            raise ConfigurationError("NIST SP 800-63B allows no lockout before 10 failures")
        if not self.base_delay <= self.max_delay <= self.forget_after:
            raise ConfigurationError("need base_delay <= max_delay <= forget_after")
        if not 0 < self.lockout_seconds <= self.forget_after:
            raise ConfigurationError("need 0 < lockout_seconds <= forget_after")


DEFAULT_POLICY = ThrottlePolicy()


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """What the caller stores per account (and per source address) between attempts."""

    failures: int = 0
    last_failure_at: float | None = None
    locked_until: float | None = None


class DecisionReason(StrEnum):
    """Why an attempt is allowed or not."""

    ALLOWED = "allowed"
    DELAYED = "delayed"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether to try the password now; if not, whole seconds to wait (for ``Retry-After``)."""

    allowed: bool
    retry_after_seconds: int
    reason: DecisionReason


def delay_after(failures: int, policy: ThrottlePolicy = DEFAULT_POLICY) -> float:
    """Seconds to wait after ``failures`` consecutive failures, ignoring any lockout."""
    extra = failures - policy.free_failures
    if extra <= 0:
        return 0.0
    if extra > 64:  # 2**64 seconds is past any cap; avoid float overflow for absurd counts
        return policy.max_delay
    return float(min(policy.base_delay * 2 ** (extra - 1), policy.max_delay))


def is_locked(failures: int, policy: ThrottlePolicy = DEFAULT_POLICY) -> bool:
    """True if ``failures`` consecutive failures lock the account (10 or more by default)."""
    return failures >= policy.lockout_threshold


def next_allowed_at(
    failures: int, last_failure_at: float, policy: ThrottlePolicy = DEFAULT_POLICY
) -> float:
    """When the next attempt may be made after ``failures``, the last at ``last_failure_at``."""
    if is_locked(failures, policy):
        return last_failure_at + max(policy.lockout_seconds, delay_after(failures, policy))
    return last_failure_at + delay_after(failures, policy)


def _current(state: ThrottleState, now: float, policy: ThrottlePolicy) -> ThrottleState:
    """``state``, or a fresh one if its failures are old enough to forget."""
    if state.last_failure_at is not None and now - state.last_failure_at >= policy.forget_after:
        return ThrottleState()
    return state


def record_failure(
    state: ThrottleState, now: float, policy: ThrottlePolicy = DEFAULT_POLICY
) -> ThrottleState:
    """The state after a failed attempt at ``now``."""
    failures = _current(state, now, policy).failures + 1
    locked_until = next_allowed_at(failures, now, policy) if is_locked(failures, policy) else None
    return ThrottleState(failures=failures, last_failure_at=now, locked_until=locked_until)


def record_success() -> ThrottleState:
    """The state after a successful attempt: no failures."""
    return ThrottleState()


def check(state: ThrottleState, now: float, policy: ThrottlePolicy = DEFAULT_POLICY) -> Decision:
    """May a password be tried at ``now``? If not, for how long to wait, and why."""
    state = _current(state, now, policy)
    if state.last_failure_at is None or state.failures == 0:
        return Decision(allowed=True, retry_after_seconds=0, reason=DecisionReason.ALLOWED)
    allowed_at = next_allowed_at(state.failures, state.last_failure_at, policy)
    locked = is_locked(state.failures, policy)
    if state.locked_until is not None and state.locked_until > allowed_at:
        allowed_at, locked = state.locked_until, True
    if now >= allowed_at:
        return Decision(allowed=True, retry_after_seconds=0, reason=DecisionReason.ALLOWED)
    # Rounded to the microsecond first so float noise cannot turn 4 s into 5.
    wait = max(1, math.ceil(round(allowed_at - now, 6)))
    return Decision(
        allowed=False,
        retry_after_seconds=wait,
        reason=DecisionReason.LOCKED if locked else DecisionReason.DELAYED,
    )
