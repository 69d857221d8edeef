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
long as the node, across configuration changes.

Limits hold for the platform, not per node: :class:`~services.sip_core.policy.shared.SharedLimits`
exchanges every node's figures over NATS (:mod:`libs.bus.limits`) and hands the other nodes'
sums to :meth:`Limiter.set_remote`. A channel limit then counts the calls of every node; a CPS
limit gives this node what the others leave of it, and never less than an equal share among the
nodes admitting calls for the key (so two nodes that both want the whole rate converge on half
each instead of taking turns). Sharing is eventually consistent: the platform may overshoot by
what the other nodes admitted within one exchange interval (``libs.bus.limits`` explains why).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    """Channel counters and CPS buckets per key; ``now`` is passed in (a monotonic clock).

    Sans-I/O: the other nodes' figures come in through :meth:`set_remote`, this node's go out
    through :meth:`usage`.
    """

    def __init__(self) -> None:
        self._channels: dict[str, int] = {}
        self._buckets: dict[str, TokenBucket] = {}
        #: The other nodes' calls in progress per key (summed over the nodes).
        self._remote_channels: Mapping[str, int] = {}
        #: The other nodes' admissions per key: (calls per second summed, nodes admitting).
        self._remote_cps: Mapping[str, tuple[float, int]] = {}
        #: Keys acquired with a channel limit (what :meth:`usage` reports).
        self._limited: set[str] = set()
        #: Calls admitted per CPS-limited key since the last :meth:`usage`.
        self._admitted: dict[str, int] = {}
        self._usage_at: float | None = None

    def in_use(self, key: str) -> int:
        """Calls this node holds against ``key``."""
        return self._channels.get(key, 0)

    def in_use_everywhere(self, key: str) -> int:
        """Calls every node holds against ``key``, as far as this node knows."""
        return self._channels.get(key, 0) + self._remote_channels.get(key, 0)

    def cps_allowance(self, key: str, limit: int) -> float:
        """This node's share of a CPS ``limit``: what the other nodes leave, at least an equal
        share among the nodes admitting calls for ``key``."""
        remote = self._remote_cps.get(key)
        if remote is None:
            return float(limit)
        rate, nodes = remote
        return max(limit / (nodes + 1), limit - rate)

    def acquire(self, levels: Sequence[LimitKey], now: float) -> Lease | LimitExceeded:
        channels = self._channels
        buckets = self._buckets
        remote_channels = self._remote_channels
        remote_cps = self._remote_cps
        for level in levels:
            key = level.key
            if level.channels and (
                channels.get(key, 0) + remote_channels.get(key, 0) >= level.channels
            ):
                return LimitExceeded(key, LimitKind.CHANNELS)
            if level.cps:
                rate = (
                    float(level.cps)
                    if key not in remote_cps
                    else self.cps_allowance(key, level.cps)
                )
                bucket = buckets.get(key)
                if bucket is None:
                    bucket = buckets[key] = TokenBucket(rate, now)
                elif bucket.rate != rate:
                    bucket.reconfigure(rate)
                if not bucket.available(now):
                    return LimitExceeded(key, LimitKind.CPS)
        admitted = self._admitted
        for level in levels:
            key = level.key
            if level.cps:
                buckets[key].take(now)
                admitted[key] = admitted.get(key, 0) + 1
            if level.channels:
                self._limited.add(key)
            channels[key] = channels.get(key, 0) + 1
        return Lease(tuple(level.key for level in levels), self._give_back)

    # -- sharing with the other nodes ----------------------------------------------------------

    def usage(self, now: float, max_keys: int) -> tuple[dict[str, int], dict[str, float]]:
        """What this node holds against its limited keys: channels in use, and calls admitted
        per second since the previous call (the first call reports no rate). At most
        ``max_keys`` of each, the busiest first."""
        channels: dict[str, int] = {}
        for key in list(self._limited):
            count = self._channels.get(key, 0)
            if count:
                channels[key] = count
            else:
                self._limited.discard(key)  # acquired again with a limit, it comes back
        cps: dict[str, float] = {}
        since, self._usage_at = self._usage_at, now
        if since is not None and now > since:
            elapsed = now - since
            cps = {key: count / elapsed for key, count in self._admitted.items()}
        self._admitted.clear()
        if len(channels) > max_keys:
            channels = dict(sorted(channels.items(), key=lambda kv: -kv[1])[:max_keys])
        if len(cps) > max_keys:
            cps = dict(sorted(cps.items(), key=lambda kv: -kv[1])[:max_keys])
        return channels, cps

    def set_remote(self, channels: Mapping[str, int], cps: Mapping[str, tuple[float, int]]) -> None:
        """The other nodes' figures (sums over the nodes; replaced whole at each update)."""
        self._remote_channels = channels
        self._remote_cps = cps

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
