"""Which rtp_relay gets a call: a live view of the relays' heartbeats, and the choice.

The view watches the ``rtp_relay.*`` keys of the presence bucket (one update per relay every
couple of seconds), so choosing a relay reads memory, never NATS. A relay is *live* while its
latest heartbeat is younger than the presence TTL; the bucket's TTL removes an expired key
without telling a watcher, so the view ages entries itself and reports the ones it drops (and the
keys a stopping relay withdraws) to ``on_lost``: the calls that relay carried have lost their
media.

The choice (reference, *Media Handling*: relays run under 50 % of their capacity; *Scaling*:
least loaded first): the live, non-draining relay of the zone with the lowest estimated load,
where the estimate is the relay's own heartbeat figure (the larger of its port pairs in use and
its CPU) plus the calls this node placed on it since that heartbeat was built (a heartbeat
comes every couple of seconds; a burst of calls would otherwise all land on one relay). Lowest
first means a relay above 50 % is chosen only when every other one is too. A relay that refused
or did not answer is set aside for a while (:meth:`RelayDirectory.set_aside`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from prometheus_client import Gauge

from libs.bus import PRESENCE_BUCKET, Bus, BusConnector, MessageDecodeError, NodeHeartbeat

__all__ = ["RelayDirectory", "RelayInfo"]

_log = structlog.get_logger(__name__)

LIVE_RELAYS = Gauge("tandem_media_relays_live", "rtp_relay nodes this sip_core sees alive")

_ROLE = "rtp_relay"
_DELETE_OPERATIONS = frozenset({"DEL", "PURGE"})
#: Port pairs one call takes on a relay (leg a and leg b).
PAIRS_PER_CALL = 2


@dataclass(slots=True)
class RelayInfo:
    """What this node knows of one relay."""

    heartbeat: NodeHeartbeat
    #: Monotonic time the heartbeat was (estimated to be) sent.
    seen_at: float
    #: When this node placed calls on it that the heartbeat may not count yet (monotonic).
    placed: list[float] = field(default_factory=list)
    #: Monotonic time until which it gets no new calls (it refused or did not answer).
    aside_until: float = 0.0

    @property
    def node_id(self) -> str:
        return self.heartbeat.node_id

    @property
    def zone(self) -> str:
        return self.heartbeat.zone

    @property
    def estimated_load(self) -> float:
        pairs = self.heartbeat.capacity.get("port_pairs") or 0
        extra = len(self.placed) * PAIRS_PER_CALL / pairs if pairs > 0 else 0.0
        return self.heartbeat.load + extra


class RelayDirectory:
    """The live rtp_relays, kept current by a watch on the presence bucket."""

    def __init__(
        self,
        connector: BusConnector,
        *,
        ttl: float = 10.0,
        on_lost: Callable[[str], None] | None = None,
        bucket: str = PRESENCE_BUCKET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connector = connector
        self.ttl = ttl
        self.on_lost = on_lost
        self._bucket = bucket
        self._clock = clock
        self._relays: dict[str, RelayInfo] = {}
        self._tasks: list[asyncio.Task[None]] = []
        #: Set once the watch has delivered what the bucket held when it began.
        self.loaded = asyncio.Event()

    # -- reading -----------------------------------------------------------------------------

    def relays(self, zone: str | None = None) -> list[RelayInfo]:
        """The live relays (of ``zone``), whatever their load or draining state."""
        now = self._clock()
        return [
            relay
            for relay in self._relays.values()
            if now - relay.seen_at <= self.ttl and (zone is None or relay.zone == zone)
        ]

    def choose(self, zone: str, *, exclude: frozenset[str] = frozenset()) -> RelayInfo | None:
        """The relay for a new call in ``zone``, or None when none can take it."""
        now = self._clock()
        best: list[RelayInfo] = []
        lowest = 0.0
        for relay in self.relays(zone):
            if (
                relay.heartbeat.draining
                or relay.node_id in exclude
                or relay.aside_until > now
                or relay.estimated_load >= 1.0
            ):
                continue
            load = relay.estimated_load
            if not best or load < lowest - 1e-9:
                best, lowest = [relay], load
            elif abs(load - lowest) <= 1e-9:
                best.append(relay)
        if not best:
            return None
        return best[0] if len(best) == 1 else random.choice(best)  # noqa: S311 - spreading ties

    def placed(self, node_id: str) -> None:
        """``node_id`` has just allocated ports for a call of this node: counted in its load
        until a heartbeat sent after this moment (which counts it itself) arrives."""
        relay = self._relays.get(node_id)
        if relay is not None:
            relay.placed.append(self._clock())

    def set_aside(self, node_id: str, seconds: float) -> None:
        """Give ``node_id`` no new calls for ``seconds`` (it refused, or did not answer)."""
        relay = self._relays.get(node_id)
        if relay is not None:
            relay.aside_until = self._clock() + seconds

    # -- feeding -----------------------------------------------------------------------------

    def update(self, heartbeat: NodeHeartbeat, *, age: float = 0.0) -> None:
        """Record ``heartbeat`` (sent ``age`` seconds ago)."""
        if heartbeat.role != _ROLE:
            return
        seen = self._clock() - min(max(age, 0.0), self.ttl)
        known = self._relays.get(heartbeat.node_id)
        if known is not None and seen < known.seen_at:
            return  # an older heartbeat, replayed
        aside = known.aside_until if known is not None else 0.0
        # A placement acknowledged after the heartbeat was built may be missing from it: keep
        # counting it (counting one twice for a moment errs on the safe side).
        placed = [t for t in known.placed if t >= seen] if known is not None else []
        self._relays[heartbeat.node_id] = RelayInfo(heartbeat, seen, placed, aside)
        if known is None:
            _log.info("media.relay_seen", relay=heartbeat.node_id, zone=heartbeat.zone)
        LIVE_RELAYS.set(len(self._relays))

    def remove(self, node_id: str, why: str) -> None:
        """Forget ``node_id`` and report it lost."""
        if self._relays.pop(node_id, None) is None:
            return
        LIVE_RELAYS.set(len(self._relays))
        _log.warning("media.relay_lost", relay=node_id, why=why)
        if self.on_lost is not None:
            try:
                self.on_lost(node_id)
            except Exception:
                _log.exception("media.relay_lost_handler_failed", relay=node_id)

    def expire(self) -> list[str]:
        """Drop relays whose heartbeat is older than the TTL; returns their ids."""
        now = self._clock()
        gone = [node for node, r in self._relays.items() if now - r.seen_at > self.ttl]
        for node_id in gone:
            self.remove(node_id, "presence expired")
        return gone

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._watch_forever(), name="relay-directory-watch"),
                loop.create_task(self._expire_forever(), name="relay-directory-expiry"),
            ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _expire_forever(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.ttl / 4))
            self.expire()

    async def _watch_forever(self) -> None:
        while True:
            bus = await self._connector.wait_connected()
            try:
                await self._watch(bus)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("media.relay_watch_interrupted", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(1.0)

    async def _watch(self, bus: Bus) -> None:
        kv = await bus.key_value(self._bucket)
        last = (await kv.status()).stream_info.state.last_seq
        watcher = await kv.watch(f"{_ROLE}.>")
        if last == 0:
            self.loaded.set()
        try:
            while True:
                try:
                    entry = await asyncio.wait_for(
                        watcher.updates(),  # type: ignore[no-untyped-call]
                        timeout=5.0,
                    )
                except TimeoutError:
                    if not bus.is_connected:
                        raise ConnectionError("NATS connection lost") from None
                    continue
                if entry is None:  # nats-py's "initial values done": unreliable, see liveconfig
                    continue
                if entry.revision is not None and entry.revision >= last:
                    self.loaded.set()
                node_id = entry.key.split(".", 1)[-1]
                if entry.operation in _DELETE_OPERATIONS or not entry.value:
                    self.remove(node_id, "withdrawn")
                    continue
                try:
                    heartbeat = NodeHeartbeat.from_bytes(entry.value)
                except MessageDecodeError as exc:
                    _log.debug("media.relay_heartbeat_skipped", key=entry.key, reason=str(exc))
                    continue
                age = (datetime.now(UTC) - heartbeat.sent_at).total_seconds()
                self.update(heartbeat, age=age)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(watcher.stop(), 1.0)  # type: ignore[no-untyped-call]
