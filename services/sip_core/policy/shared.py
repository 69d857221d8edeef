"""Channel and CPS limits for the platform: each node's figures exchanged over NATS.

:class:`SharedLimits` publishes this node's :meth:`Limiter.usage` every ``interval`` seconds on
``sip.limits.usage.<node_id>`` (while it holds anything, and once more when it holds nothing
again), listens to every other node's reports, and hands their sums to
:meth:`Limiter.set_remote`. A node whose report is older than the ``expires_after`` it announced
(it stopped, or the bus lost it) no longer counts. The protocol and its consistency trade-off
are described in :mod:`libs.bus.limits`.

Nothing here is on a call's path: a call is admitted on the limiter's local state, so an
unreachable bus degrades the limits to per node, it never stops calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from nats.aio.msg import Msg
from prometheus_client import Gauge

from libs.bus import BusConnector, BusError
from libs.bus.limits import (
    LIMIT_USAGE_SUBJECTS,
    MAX_REPORTED_KEYS,
    LimitUsage,
    limit_usage_subject,
)
from libs.bus.subscriber import QueueSubscriber
from libs.bus.tasks import cancel_and_wait
from services.sip_core.policy.limits import Limiter

__all__ = ["SharedLimits"]

_log = structlog.get_logger(__name__)

PEERS = Gauge("tandem_sip_limit_peers", "Other sip_core nodes whose limit figures count here")


@dataclass(slots=True)
class _Report:
    sequence: int
    expires_at: float
    usage: LimitUsage


class SharedLimits:
    """Keeps ``limiter`` told of the other nodes' figures and them of this node's."""

    def __init__(
        self,
        connector: BusConnector,
        limiter: Limiter,
        *,
        node_id: str,
        interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError("the exchange interval must be positive")
        self.node_id = node_id
        self.interval = interval
        #: How long this node's reports count at the others: a few intervals, so one report
        #: lost or late does not drop the node's calls from the sums.
        self.expires_after = min(60.0, max(1.0, 4 * interval))
        self._connector = connector
        self._limiter = limiter
        self._clock = clock
        self._reports: dict[str, _Report] = {}
        self._sequence = 0
        self._held = False  # the last report carried figures
        self._subscriber = QueueSubscriber(
            connector, LIMIT_USAGE_SUBJECTS, self._received, queue="", name="limit-usage"
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> asyncio.Event:
        """Set while subscribed to the other nodes' reports."""
        return self._subscriber.ready

    @property
    def peers(self) -> list[str]:
        """The other nodes whose figures count now."""
        return sorted(self._reports)

    def start(self) -> None:
        self._subscriber.start()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._publishing(), name="limit-usage-publisher"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        await self._subscriber.stop()

    # -- the other nodes -------------------------------------------------------------------------

    async def _received(self, msg: Msg) -> None:
        usage = LimitUsage.from_bytes(msg.data)  # a bad one is logged by the bus and dropped
        if usage.node_id == self.node_id or msg.subject != limit_usage_subject(usage.node_id):
            return
        now = self._clock()
        known = self._reports.get(usage.node_id)
        # A lower sequence is an older report overtaken, unless the node restarted (its last
        # report expired meanwhile).
        if known is not None and usage.sequence <= known.sequence and known.expires_at > now:
            return
        self._reports[usage.node_id] = _Report(usage.sequence, now + usage.expires_after, usage)
        self._recompute()

    def _expire(self, now: float) -> None:
        gone = [node for node, report in self._reports.items() if report.expires_at <= now]
        for node in gone:
            del self._reports[node]
            _log.info("limit figures of a node expired", node=node)
        if gone:
            self._recompute()

    def _recompute(self) -> None:
        channels: dict[str, int] = {}
        cps: dict[str, tuple[float, int]] = {}
        for report in self._reports.values():
            for key, count in report.usage.channels.items():
                channels[key] = channels.get(key, 0) + count
            for key, rate in report.usage.cps.items():
                if rate > 0:
                    total, nodes = cps.get(key, (0.0, 0))
                    cps[key] = (total + rate, nodes + 1)
        self._limiter.set_remote(channels, cps)
        PEERS.set(len(self._reports))

    # -- this node ---------------------------------------------------------------------------------

    async def _publishing(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._publish_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let the exchange die: limits fall back to per node
                _log.exception("limit figures exchange failed")

    async def _publish_once(self) -> None:
        now = self._clock()
        self._expire(now)
        channels, cps = self._limiter.usage(now, MAX_REPORTED_KEYS)
        held = bool(channels or any(cps.values()))
        if not held and not self._held:
            return  # nothing to say, and the others already know it
        self._sequence += 1
        report = LimitUsage(
            node_id=self.node_id,
            sequence=self._sequence,
            expires_after=self.expires_after,
            channels=channels,
            cps={key: round(rate, 3) for key, rate in cps.items() if rate > 0},
        )
        if not self._connector.connected:
            return  # the others expire our figures; ours count on alone meanwhile
        try:
            await self._connector.bus.publish(limit_usage_subject(self.node_id), report)
        except BusError as exc:
            _log.debug("limit figures not published", error=str(exc))
            return
        self._held = held
