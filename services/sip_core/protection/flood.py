"""Flood protection per source address (sans-I/O: every call takes ``now``).

A source that sends more than ``max_requests`` counted requests within ``window`` seconds is
banned for ``ban_seconds``: the transports drop everything it sends, before parsing and without
answering (the behaviour ``security-elements-ivozprovider.txt`` describes: "the proxy will stop
sending responses for a period of time"). When the ban ends the source starts from a clean
count, so it is re-evaluated on what it sends next.

The window slides: each source keeps the count of the current fixed window and of the previous
one, and the rate is estimated as ``previous * (1 - elapsed/window) + current`` (the sliding
window counter of rate limiters). That costs three numbers per source instead of a timestamp per
request, and a burst that straddles two fixed windows is still caught.

Memory is bounded whatever the traffic: at most ``max_sources`` counters and ``max_bans`` bans.
Under a flood with spoofed (ever-changing) source addresses each new address evicts the counter
used least recently, so the table never grows; a real source that keeps sending stays recent
and keeps its count. A spoofed flood cannot be stopped per source anyway — the firewall
(network blocks) and the kernel are the tools for that.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["Ban", "FloodGuard"]


@dataclass(frozen=True, slots=True)
class Ban:
    """A source banned by the flood guard."""

    source: str
    #: Estimated requests within the window when the ban began.
    requests: int
    limit: int
    window: float
    started: float
    until: float


class FloodGuard:
    """Counts requests per source and bans the ones over the limit."""

    def __init__(
        self,
        max_requests: int = 200,
        window: float = 10.0,
        ban_seconds: float = 3600.0,
        *,
        max_sources: int = 65_536,
        max_bans: int = 65_536,
    ) -> None:
        if max_sources < 1 or max_bans < 1:
            raise ValueError("max_sources and max_bans must be at least 1")
        self.max_sources = max_sources
        self.max_bans = max_bans
        #: ``source -> [window start, count in this window, count in the previous window]``
        self._counters: OrderedDict[str, list[float]] = OrderedDict()
        #: ``source -> Ban`` (insertion order ≈ expiry order: the oldest ban is evicted first).
        self._bans: OrderedDict[str, Ban] = OrderedDict()
        self.evicted = 0
        self.configure(max_requests, window, ban_seconds)

    def configure(self, max_requests: int, window: float, ban_seconds: float) -> None:
        """New thresholds (settings changed); counts and bans in progress are kept.

        ``max_requests`` ≤ 0 disables counting (bans in progress still run out).
        """
        if window <= 0 or ban_seconds < 0:
            raise ValueError("window must be positive and ban_seconds not negative")
        self.max_requests = max_requests
        self.window = float(window)
        self.ban_seconds = float(ban_seconds)

    # -- reading ---------------------------------------------------------------------------

    @property
    def bans(self) -> dict[str, Ban]:
        """The bans in force or not yet noticed to have ended (a copy)."""
        return dict(self._bans)

    @property
    def tracked(self) -> int:
        """Sources with a live counter."""
        return len(self._counters)

    def banned(self, source: str, now: float) -> bool:
        """Whether ``source`` is banned at ``now`` (a ban that ended is forgotten here)."""
        ban = self._bans.get(source)
        if ban is None:
            return False
        if now < ban.until:
            return True
        del self._bans[source]
        return False

    # -- counting --------------------------------------------------------------------------

    def hit(self, source: str, now: float, limit: int | None = None) -> Ban | None:
        """Count one request from ``source``; the new :class:`Ban` when this one crossed the
        limit (``limit`` overrides ``max_requests`` for this source), else ``None``."""
        limit = self.max_requests if limit is None else limit
        if limit <= 0:
            return None
        if self.banned(source, now):
            return None
        window = self.window
        counters = self._counters
        counter = counters.get(source)
        if counter is None:
            if len(counters) >= self.max_sources:
                counters.popitem(last=False)
                self.evicted += 1
            counter = counters[source] = [now, 0.0, 0.0]
        else:
            counters.move_to_end(source)
            elapsed = now - counter[0]
            if elapsed >= window:
                # One window on: the current count becomes the previous one; two or more: both
                # are stale.
                counter[2] = counter[1] if elapsed < 2 * window else 0.0
                counter[1] = 0.0
                counter[0] += window * (elapsed // window)
        counter[1] += 1
        estimate = counter[2] * (1.0 - (now - counter[0]) / window) + counter[1]
        if estimate <= limit:
            return None
        del counters[source]
        return self._ban(source, int(estimate), limit, now)

    def _ban(self, source: str, requests: int, limit: int, now: float) -> Ban:
        bans = self._bans
        if len(bans) >= self.max_bans:
            bans.popitem(last=False)
            self.evicted += 1
        ban = Ban(source, requests, limit, self.window, now, now + self.ban_seconds)
        bans[source] = ban
        return ban

    def lift(self, source: str) -> bool:
        """End ``source``'s ban now (an operator trusted it); ``True`` if it was banned."""
        self._counters.pop(source, None)
        return self._bans.pop(source, None) is not None

    def forget_expired(self, now: float) -> int:
        """Drop bans that have run out and counters idle for two windows (housekeeping)."""
        ended = [source for source, ban in self._bans.items() if ban.until <= now]
        for source in ended:
            del self._bans[source]
        stale = now - 2 * self.window
        counters = self._counters
        while counters:
            source, counter = next(iter(counters.items()))
            if counter[0] > stale:
                break
            del counters[source]
        return len(ended)
