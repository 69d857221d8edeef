"""Handing security events to the ``SECURITY`` stream without ever holding up the SIP path.

:meth:`SecurityReporter.report` only appends to a bounded queue; one task publishes the queue in
order with the event id as ``Nats-Msg-Id`` (a retry after a timeout is stored once). While NATS
is unreachable events wait; past ``max_pending`` the oldest are dropped and counted — the node's
own flood bans do not depend on them, they only feed the IDS worker and the operators.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

import structlog
from prometheus_client import Counter

from libs.bus import BusConnector
from libs.bus.messages import BusMessage
from libs.bus.tasks import cancel_and_wait

__all__ = ["SecurityReporter"]

_log = structlog.get_logger(__name__)

EVENTS = Counter("tandem_sip_security_events_total", "Security events reported", ["outcome"])
_SENT = EVENTS.labels("sent")
_LOST = EVENTS.labels("dropped")
RETRY_DELAY = 1.0


class SecurityReporter:
    def __init__(self, connector: BusConnector, *, max_pending: int = 10_000) -> None:
        self.connector = connector
        self._queue: deque[tuple[str, BusMessage]] = deque()
        self._max_pending = max_pending
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._queue)

    def report(self, subject: str, message: BusMessage) -> None:
        """Queue ``message`` for ``subject`` (returns at once, never raises)."""
        if len(self._queue) >= self._max_pending:
            self._queue.popleft()
            _LOST.inc()
        self._queue.append((subject, message))
        self._drained.clear()
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="security-events")

    async def stop(self, *, flush_within: float = 2.0) -> None:
        if self._queue and self.connector.connected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), flush_within)
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                subject, message = self._queue[0]
                bus = await self.connector.wait_connected()
                try:
                    await bus.publish_persistent(
                        subject, message, msg_id=getattr(message, "event_id", None), timeout=5.0
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    _log.warning("security event not published; retrying", error=str(exc))
                    await asyncio.sleep(RETRY_DELAY)
                    continue
                if self._queue and self._queue[0][1] is message:
                    self._queue.popleft()
                _SENT.inc()
            self._drained.set()
