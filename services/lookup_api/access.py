"""API keys on lookup_api: verified locally, limited per second and per day, usage reported.

No database on the hot path: switch_api publishes each key that may use lookup_api as a
``lookupkey`` configuration object (its SHA-256 verifier, owner, allow lists and limits), and
:class:`Gate` checks a presented key against it — parse, one SHA-256, a constant-time compare.
Revoking a key deletes the object, and every node refuses it within the configuration watch's
latency (well under a second).

Rate limit
    A token bucket per key: ``requests_per_second`` tokens a second, as many at most (one
    second of burst). A lookup of *n* numbers (a batch) costs *n*; it passes when the bucket
    holds ``min(n, capacity)`` tokens and may leave it in debt, so a batch larger than a second's
    worth waits its turn instead of never passing. A refusal is ``429`` with ``Retry-After``.
Daily quota
    ``daily_quota`` lookups per UTC day, counted over the whole cluster: each node reports its
    keys' usage every :data:`REPORT_INTERVAL` seconds (``LookupUsageReported``), and each
    node adds the other nodes' latest totals to its own. The quota can therefore be
    overrun by what the other nodes answer within one interval. ``Retry-After`` is the time to
    UTC midnight.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import structlog

from libs.bus import Bus, BusConnector, Msg
from libs.bus.lookup import USAGE_SUBJECT, KeyUsage, LookupUsageReported
from libs.bus.tasks import cancel_and_wait
from libs.errors import PermissionDenied, RateLimited, Unauthenticated
from libs.identity import API_KEY_PREFIX
from libs.liveconfig.models import LookupKeyConfig
from services.lookup_api.state import LookupState

__all__ = ["REPORT_INTERVAL", "Gate", "KeyCounters"]

_log = structlog.get_logger(__name__)

#: Seconds between two usage reports of a node.
REPORT_INTERVAL = 2.0
_PREFIX = API_KEY_PREFIX + "_"
_INVALID = Unauthenticated("The API key is invalid or revoked.")
_MISSING = Unauthenticated("Send an API key: 'X-API-Key: tdm_key_…' or 'Authorization: Bearer'.")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class KeyCounters:
    """One key's bucket and counters on this node (``day`` is the UTC day they count)."""

    config: LookupKeyConfig
    tokens: float
    updated: float
    day: date
    networks: tuple[tuple[Network, ...], ...] = ()
    requests_today: int = 0
    refused_today: int = 0
    reported_requests: int = 0
    reported_refused: int = 0
    #: The latest ``requests_today`` of every other node, by node id.
    others: dict[str, int] = field(default_factory=dict)


def _networks(config: LookupKeyConfig) -> tuple[tuple[Network, ...], ...]:
    lists = []
    for allowed in config.allowed_sources:
        networks = []
        for text in allowed:
            with contextlib.suppress(ValueError):
                networks.append(ipaddress.ip_network(text, strict=False))
        lists.append(tuple(networks))
    return tuple(lists)


class Gate:
    """Who may look up, how fast and how much: :meth:`admit` on every request."""

    def __init__(
        self,
        state: LookupState,
        *,
        node_id: str = "",
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._state = state
        self._clock = clock
        self._today = today
        self.node_id = node_id or uuid.uuid4().hex
        self._counters: dict[uuid.UUID, KeyCounters] = {}
        self._task: asyncio.Task[None] | None = None

    # -- the hot path ----------------------------------------------------------------------

    def authenticate(self, presented: str | None) -> LookupKeyConfig:
        """The key's configuration; :class:`Unauthenticated` if missing, unknown or revoked."""
        if not presented:
            raise _MISSING
        if not presented.startswith(_PREFIX):
            raise _INVALID
        lookup_id, _, secret = presented[len(_PREFIX) :].partition("_")
        config = self._state.snapshot.keys.get(lookup_id)
        if config is None or not secret:
            raise _INVALID
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).hexdigest()
        if not hmac.compare_digest(digest, config.key_hash):
            raise _INVALID
        return config

    def admit(self, presented: str | None, source: str | None, cost: int = 1) -> LookupKeyConfig:
        """Authenticate, check the allow lists, take ``cost`` from the rate limit and quota.

        Raises :class:`Unauthenticated` (401), :class:`PermissionDenied` (403, wrong source) or
        :class:`RateLimited` (429 with its ``Retry-After``).
        """
        config = self.authenticate(presented)
        counters = self._counters.get(config.id)
        now = self._clock()
        if counters is None or counters.config is not config:
            counters = self._refresh(config, counters, now)
        if counters.networks and not self._source_allowed(counters.networks, source):
            raise PermissionDenied(f"This API key may not be used from {source}.")
        day = self._today().date()
        if day != counters.day:
            counters.day = day
            counters.requests_today = counters.refused_today = 0
            counters.reported_requests = counters.reported_refused = 0
            counters.others.clear()
        rps = config.requests_per_second
        if rps:
            tokens = min(float(rps), counters.tokens + (now - counters.updated) * rps)
            counters.updated = now
            needed = min(cost, rps)
            if tokens < needed:
                counters.tokens = tokens
                counters.refused_today += 1
                raise RateLimited(
                    f"This API key may make {rps} lookups a second.",
                    retry_after=(needed - tokens) / rps,
                )
            counters.tokens = tokens - cost
        quota = config.daily_quota
        if quota:
            used = counters.requests_today + sum(counters.others.values())
            if used + cost > quota:
                counters.refused_today += 1
                if rps:
                    counters.tokens += cost  # nothing was answered: give the tokens back
                midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
                raise RateLimited(
                    f"This API key's daily quota of {quota} lookups is used up "
                    f"({used} used today, UTC).",
                    retry_after=(midnight - self._today()).total_seconds(),
                )
        counters.requests_today += cost
        return config

    def _refresh(self, config: LookupKeyConfig, old: KeyCounters | None, now: float) -> KeyCounters:
        if old is None:
            counters = KeyCounters(
                config, float(config.requests_per_second), now, self._today().date()
            )
        else:  # the key's limits changed: keep its counts
            old.config = config
            old.tokens = min(old.tokens, float(config.requests_per_second))
            counters = old
        counters.networks = _networks(config)
        self._counters[config.id] = counters
        return counters

    @staticmethod
    def _source_allowed(lists: tuple[tuple[Network, ...], ...], source: str | None) -> bool:
        try:
            address = ipaddress.ip_address(source or "")
        except ValueError:
            return False
        return all(any(address in network for network in networks) for networks in lists)

    # -- usage ---------------------------------------------------------------------------------

    def usage(self, key_id: uuid.UUID) -> KeyCounters | None:
        """This node's counters of a key (``None`` before its first request here)."""
        return self._counters.get(key_id)

    def report(self) -> LookupUsageReported | None:
        """What changed since the last report, and today's totals (``None``: nothing new)."""
        day = self._today().date()
        keys: list[KeyUsage] = []
        for key_id, counters in self._counters.items():
            if counters.day != day:
                continue
            requests = counters.requests_today - counters.reported_requests
            refused = counters.refused_today - counters.reported_refused
            if not requests and not refused:
                continue
            keys.append(
                KeyUsage(
                    api_key_id=str(key_id),
                    requests=requests,
                    refused=refused,
                    requests_today=counters.requests_today,
                )
            )
            counters.reported_requests = counters.requests_today
            counters.reported_refused = counters.refused_today
        if not keys:
            return None
        return LookupUsageReported(node_id=self.node_id, day=day, sent_at=self._today(), keys=keys)

    def learn(self, report: LookupUsageReported) -> None:
        """Another node's totals: they count against this node's quotas."""
        if report.node_id == self.node_id or report.day != self._today().date():
            return
        keys = self._state.snapshot.keys
        by_id = {str(config.id): config for config in keys.values()}
        now = self._clock()
        for usage in report.keys:
            counters = None
            with contextlib.suppress(ValueError):
                counters = self._counters.get(uuid.UUID(usage.api_key_id))
            if counters is None:
                config = by_id.get(usage.api_key_id)
                if config is None:
                    continue
                counters = self._refresh(config, None, now)
            if counters.day == report.day:
                counters.others[report.node_id] = usage.requests_today

    def forget(self, live: Iterable[uuid.UUID]) -> None:
        """Drop the counters of keys no longer configured."""
        keep = set(live)
        for key_id in [k for k in self._counters if k not in keep]:
            del self._counters[key_id]

    # -- running -------------------------------------------------------------------------------

    def start(self, connector: BusConnector, interval: float = REPORT_INTERVAL) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(connector, interval), name="lookup-usage"
            )

    async def stop(self, connector: BusConnector | None = None) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        if connector is not None and connector.connected:
            await self._publish(connector.bus)  # the last counts, before the node goes

    async def _run(self, connector: BusConnector, interval: float) -> None:
        while True:
            bus = await connector.wait_connected()
            subscription = None
            try:
                subscription = await bus.subscribe(USAGE_SUBJECT, self._on_report)
                while bus.is_connected:
                    await asyncio.sleep(interval)
                    await self._publish(bus)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("usage reporting interrupted", error=str(exc))
            finally:
                if subscription is not None:
                    with contextlib.suppress(Exception):
                        await subscription.unsubscribe()
            await asyncio.sleep(interval)

    async def _on_report(self, msg: Msg) -> None:
        self.learn(LookupUsageReported.from_bytes(msg.data))

    async def _publish(self, bus: Bus) -> None:
        self.forget(config.id for config in self._state.snapshot.keys.values())
        report = self.report()
        if report is not None:
            try:
                await bus.publish(USAGE_SUBJECT, report)
            except Exception as exc:
                _log.warning("usage report not sent", error=str(exc))
