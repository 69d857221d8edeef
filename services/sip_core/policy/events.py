"""Security events (``SipAuthFailed``) published off the call path.

The policy hands an event to :meth:`SecurityEvents.emit`, which only appends it to a bounded
queue and returns: no await, no I/O, nothing that can raise into the call. A background task
publishes the queue to the ``SECURITY`` stream (the event id as the JetStream message id, so a
retry after a timeout is stored once). When NATS is away events wait in the queue; when it is
full (a flood of failures during an outage) the oldest are dropped and counted — the intrusion
detection worker gets the recent ones, which are the ones that matter to it.
"""

from __future__ import annotations

import asyncio
from collections import deque

import structlog
from prometheus_client import Counter

from libs.bus import BusConnector
from libs.bus.security import SIP_AUTH_FAILED_SUBJECT, SipAuthFailed
from libs.bus.tasks import cancel_and_wait

__all__ = ["SecurityEvents"]

_log = structlog.get_logger(__name__)

EVENTS = Counter(
    "tandem_sip_auth_failures_total", "SIP authentication failures by reason", ["reason"]
)
DROPPED = Counter(
    "tandem_security_events_dropped_total", "Security events dropped (queue full while NATS away)"
)


class SecurityEvents:
    def __init__(self, connector: BusConnector | None, *, max_queued: int = 10_000) -> None:
        self._connector = connector
        self._queue: deque[SipAuthFailed] = deque()
        self._max = max_queued
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def emit(self, event: SipAuthFailed) -> None:
        """Queue ``event`` for publishing (never blocks, never raises)."""
        EVENTS.labels(event.reason).inc()
        if len(self._queue) >= self._max:
            self._queue.popleft()
            DROPPED.inc()
        self._queue.append(event)
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        if self._task is None and self._connector is not None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="security-events")

    async def stop(self, flush_within: float = 2.0) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        deadline = asyncio.get_running_loop().time() + flush_within
        while self._queue and not task.done() and asyncio.get_running_loop().time() < deadline:
            await asyncio.wait({task}, timeout=0.05)  # the publisher drains meanwhile
        await cancel_and_wait(task)

    async def _run(self) -> None:
        assert self._connector is not None
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            bus = await self._connector.wait_connected()
            event = self._queue[0]
            try:
                await bus.publish_persistent(
                    SIP_AUTH_FAILED_SUBJECT, event, msg_id=event.event_id, timeout=5.0
                )
            except Exception as exc:
                _log.warning("security event not published yet", error=str(exc))
                await asyncio.sleep(1.0)
                continue
            if self._queue and self._queue[0] is event:
                self._queue.popleft()
