"""Intrusion detection: turning sip_core's security events into escalations (sans-I/O).

:class:`ThreatDetector` is fed events with their own timestamps (``at``, seconds) and returns
the :class:`Escalation` each one causes, if any. It never touches a clock, the database or the
bus; the worker persists what it returns. Rules (thresholds from the platform settings):

- **auth_failures** — more than ``auth_failure_max`` failed authentications from one source
  within ``auth_failure_window`` seconds;
- **username_attack** — more than ``auth_failure_max`` failures against one username (from any
  number of sources) within the window: every source that failed it at least
  ``MIN_USERNAME_FAILURES`` times is escalated (a distributed guess at one account);
- **username_enumeration** — ``enumeration_usernames`` or more distinct usernames tried from one
  source within the window (failed authentications and scanner requests' To users: a REGISTER
  or OPTIONS sweep);
- **scanner** — a known scanner User-Agent: at once;
- **flood** — a sip_core node banned the source for flooding: at once (so every node drops it).

A source escalated is not escalated again for ``quiet_period`` seconds (the events already in
flight). Memory is bounded: at most ``max_tracked`` sources and usernames, the least recently
seen forgotten first, and ``MAX_SAMPLES`` recent failures each.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from libs.bus.security import BlockReason

__all__ = ["Escalation", "ThreatDetector", "Thresholds"]

MAX_SAMPLES = 256
MIN_USERNAME_FAILURES = 2


@dataclass(frozen=True, slots=True)
class Thresholds:
    auth_failure_max: int = 10
    auth_failure_window: float = 300.0
    enumeration_usernames: int = 5
    quiet_period: float = 60.0


@dataclass(frozen=True, slots=True)
class Escalation:
    """A source to block, why, and the evidence for the operator."""

    source: str
    reason: BlockReason
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Failure:
    at: float
    username: str | None
    reason: str
    node: str
    user_agent: str | None


class ThreatDetector:
    def __init__(
        self, thresholds: Thresholds = Thresholds(), *, max_tracked: int = 100_000
    ) -> None:
        self.thresholds = thresholds
        self.max_tracked = max_tracked
        self._by_source: OrderedDict[str, deque[_Failure]] = OrderedDict()
        self._by_username: OrderedDict[str, deque[tuple[float, str]]] = OrderedDict()
        self._escalated: OrderedDict[str, float] = OrderedDict()

    # -- events ------------------------------------------------------------------------------

    def auth_failed(
        self,
        source: str,
        at: float,
        *,
        username: str | None = None,
        reason: str = "",
        node: str = "",
        user_agent: str | None = None,
    ) -> list[Escalation]:
        """A failed authentication from ``source`` (a :class:`SipAuthFailed`)."""
        failure = _Failure(at, username or None, reason, node, user_agent)
        failures = self._track(self._by_source, source)
        failures.append(failure)
        self._expire(failures, at)
        found: list[Escalation] = []
        limit = self.thresholds.auth_failure_max
        if len(failures) > limit:
            found += self._escalate(
                source,
                at,
                "auth_failures",
                f"{len(failures)} failed authentications within "
                f"{self.thresholds.auth_failure_window:g} s (limit {limit})",
                self._evidence(failures),
            )
        usernames = {f.username for f in failures if f.username}
        if len(usernames) >= self.thresholds.enumeration_usernames:
            found += self._escalate(
                source,
                at,
                "username_enumeration",
                f"{len(usernames)} distinct usernames tried within "
                f"{self.thresholds.auth_failure_window:g} s",
                self._evidence(failures),
            )
        if username:
            found += self._username_attack(username, source, at)
        return found

    def scanner(
        self,
        source: str,
        at: float,
        *,
        fingerprint: str,
        user_agent: str,
        method: str,
        to_user: str | None = None,
        node: str = "",
    ) -> list[Escalation]:
        """A request with a scanner's User-Agent (a :class:`ScannerDetected`)."""
        if to_user:
            self._track(self._by_source, source).append(
                _Failure(at, to_user, "scanner", node, user_agent)
            )
        return self._escalate(
            source,
            at,
            "scanner",
            f"SIP scanner {fingerprint!r} ({method})",
            {"fingerprint": fingerprint, "user_agent": user_agent, "method": method,
             "to_user": to_user, "node": node},
        )  # fmt: skip

    def flooded(
        self, source: str, at: float, *, requests: int, limit: int, window: float, node: str = ""
    ) -> list[Escalation]:
        """A sip_core node banned ``source`` for flooding (a :class:`SourceFlooded`)."""
        return self._escalate(
            source,
            at,
            "flood",
            f"flood: {requests} requests within {window:g} s (limit {limit}) on {node or '?'}",
            {"requests": requests, "limit": limit, "window_seconds": window, "node": node},
        )

    # -- internals ---------------------------------------------------------------------------

    def _username_attack(self, username: str, source: str, at: float) -> list[Escalation]:
        attempts = self._track(self._by_username, username)
        attempts.append((at, source))
        horizon = at - self.thresholds.auth_failure_window
        while attempts and attempts[0][0] < horizon:
            attempts.popleft()
        if len(attempts) <= self.thresholds.auth_failure_max:
            return []
        per_source: dict[str, int] = {}
        for _, contributor in attempts:
            per_source[contributor] = per_source.get(contributor, 0) + 1
        found: list[Escalation] = []
        for contributor, count in per_source.items():
            if count >= MIN_USERNAME_FAILURES:
                found += self._escalate(
                    contributor,
                    at,
                    "username_attack",
                    f"{len(attempts)} failed authentications for username {username!r} from "
                    f"{len(per_source)} sources within "
                    f"{self.thresholds.auth_failure_window:g} s ({count} from this one)",
                    {"username": username, "failures": len(attempts),
                     "from_this_source": count, "sources": len(per_source)},
                )  # fmt: skip
        return found

    def _escalate(
        self, source: str, at: float, reason: BlockReason, detail: str, evidence: dict[str, Any]
    ) -> list[Escalation]:
        last = self._escalated.get(source)
        if last is not None and at - last < self.thresholds.quiet_period:
            return []
        self._escalated[source] = at
        self._escalated.move_to_end(source)
        while len(self._escalated) > self.max_tracked:
            self._escalated.popitem(last=False)
        self._by_source.pop(source, None)  # counted afresh after the block
        return [Escalation(source, reason, detail, evidence)]

    def _track(self, table: OrderedDict[str, deque[Any]], key: str) -> deque[Any]:
        entries = table.get(key)
        if entries is None:
            if len(table) >= self.max_tracked:
                table.popitem(last=False)
            entries = table[key] = deque(maxlen=MAX_SAMPLES)
        else:
            table.move_to_end(key)
        return entries

    def _expire(self, failures: deque[_Failure], at: float) -> None:
        horizon = at - self.thresholds.auth_failure_window
        while failures and failures[0].at < horizon:
            failures.popleft()

    @staticmethod
    def _evidence(failures: deque[_Failure]) -> dict[str, Any]:
        usernames = sorted({f.username for f in failures if f.username})
        reasons: dict[str, int] = {}
        for f in failures:
            reasons[f.reason] = reasons.get(f.reason, 0) + 1
        return {
            "failures": len(failures),
            "usernames": usernames[:50],
            "distinct_usernames": len(usernames),
            "reasons": reasons,
            "user_agents": sorted({f.user_agent for f in failures if f.user_agent})[:10],
            "nodes": sorted({f.node for f in failures if f.node}),
            "first_at": failures[0].at if failures else None,
            "last_at": failures[-1].at if failures else None,
        }
