"""Channel and CPS limits per key (an ipauth entry, a SIP user, a customer, a route, a carrier…).

A call takes one channel at every level it passes and one CPS token at every level with a CPS
limit, all or nothing: :meth:`Limiter.acquire` checks every level before taking anything, so a
refusal at the carrier level does not leak a customer channel. The :class:`Lease` it returns
gives the channels back once — :meth:`Lease.release` is idempotent — whatever way the call
ends. CPS tokens are not given back: CPS counts call *attempts* per second.

CPS is a token bucket per key: ``limit`` tokens per second, holding at most ``limit`` (at least
one): a steady ``limit`` calls per second pass, and a burst of ``limit`` after a quiet second
(RFC-less but what Kamailio's ``pike``/``ratelimit`` and carriers' CPS clauses mean).

Limits are the current configuration's (a key's limit read at each acquire); counters live as
long as the node, across configuration changes. They are per node: a cluster of N nodes admits
up to N times the limit unless the operator divides limits by the nodes sharing the traffic (see the
package docs for the cluster-wide design).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Lease", "LimitKey", "LimitKind", "Limiter", "TokenBucket"]


class LimitKind(StrEnum):
    CHANNELS = "channels"
    CPS = "cps"


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity``; starts full."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, now: float, capacity: float | None = None) -> None:
        self.rate = float(rate)
        self.capacity = float(capacity if capacity is not None else max(1.0, rate))
        self.tokens = self.capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def available(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= 1.0

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def reconfigure(self, rate: float) -> None:
        """A new rate from configuration; the tokens held are capped to the new capacity."""
        self.rate = float(rate)
        self.capacity = max(1.0, self.rate)
        self.tokens = min(self.tokens, self.capacity)


@dataclass(frozen=True, slots=True)
class LimitKey:
    """One level a call passes: ``key`` (e.g. ``customer:<id>``) and its limits (0 = none)."""

    key: str
    channels: int = 0
    cps: int = 0


@dataclass(frozen=True, slots=True)
class LimitExceeded:
    """Why :meth:`Limiter.acquire` refused: which key and which kind of limit."""

    key: str
    kind: LimitKind


class Lease:
    """The channels one call (or one attempt) holds; :meth:`release` gives them back once."""

    __slots__ = ("_keys", "_release")

    def __init__(self, keys: tuple[str, ...], release: Callable[[tuple[str, ...]], None]) -> None:
        self._keys = keys
        self._release: Callable[[tuple[str, ...]], None] | None = release

    @property
    def keys(self) -> tuple[str, ...]:
        return self._keys

    @property
    def released(self) -> bool:
        return self._release is None

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release(self._keys)


class Limiter:
    """Channel counters and CPS buckets per key; ``now`` is passed in (a monotonic clock)."""

    def __init__(self) -> None:
        self._channels: dict[str, int] = {}
        self._buckets: dict[str, TokenBucket] = {}

    def in_use(self, key: str) -> int:
        return self._channels.get(key, 0)

    def acquire(self, levels: Sequence[LimitKey], now: float) -> Lease | LimitExceeded:
        channels = self._channels
        buckets = self._buckets
        for level in levels:
            if level.channels and channels.get(level.key, 0) >= level.channels:
                return LimitExceeded(level.key, LimitKind.CHANNELS)
            if level.cps:
                bucket = buckets.get(level.key)
                if bucket is None:
                    bucket = buckets[level.key] = TokenBucket(level.cps, now)
                elif bucket.rate != level.cps:
                    bucket.reconfigure(level.cps)
                if not bucket.available(now):
                    return LimitExceeded(level.key, LimitKind.CPS)
        for level in levels:
            if level.cps:
                buckets[level.key].take(now)
            channels[level.key] = channels.get(level.key, 0) + 1
        return Lease(tuple(level.key for level in levels), self._give_back)

    def _give_back(self, keys: tuple[str, ...]) -> None:
        channels = self._channels
        for key in keys:
            left = channels.get(key, 0) - 1
            if left > 0:
                channels[key] = left
            else:
                channels.pop(key, None)

    def forget_idle_buckets(self, now: float) -> None:
        """Drop buckets that are full again (a key gone quiet), keeping the table small."""
        for key in [
            k for k, b in self._buckets.items() if b.available(now) and b.tokens >= b.capacity
        ]:
            del self._buckets[key]
