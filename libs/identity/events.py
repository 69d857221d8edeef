"""Security events on NATS: published after the fact, never failing or delaying a request.

A login's audit entry (in the database, committed first) is the reference; the bus event is the
live feed for whoever watches the SECURITY stream (alerting, the block list). Publishing runs in
a background task bounded by a timeout, so a NATS outage costs a log line, not a slow login.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import structlog

from libs.bus import BusConnector, BusError, BusMessage

__all__ = ["BusSecurityEvents", "NoSecurityEvents", "SecurityEvents"]

_log = structlog.get_logger(__name__)


class SecurityEvents(Protocol):
    """Where security events go."""

    def publish(self, subject: str, message: BusMessage, *, msg_id: str) -> None:
        """Send ``message`` on ``subject`` in the background; never raises."""

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 - a shutdown bound
        """Wait (at most ``timeout`` seconds) for the events still being sent."""


class NoSecurityEvents:
    """Drops every event (tools without a bus, such as the CLI)."""

    def publish(self, subject: str, message: BusMessage, *, msg_id: str) -> None:
        """Drop ``message``."""

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109
        """Nothing to wait for."""


class BusSecurityEvents:
    """Publishes to JetStream through a :class:`BusConnector`, in background tasks.

    At most ``max_pending`` events are in flight; beyond that (NATS hanging) new ones are
    dropped with a warning rather than piling up in memory.
    """

    def __init__(
        self, connector: BusConnector, *, timeout: float = 2.0, max_pending: int = 1000
    ) -> None:
        self._connector = connector
        self._timeout = timeout
        self._max_pending = max_pending
        self._pending: set[asyncio.Task[None]] = set()

    def publish(self, subject: str, message: BusMessage, *, msg_id: str) -> None:
        """Send ``message`` on ``subject`` (deduplicated by ``msg_id``) in the background."""
        if not self._connector.connected:
            _log.warning("security event not published: NATS unreachable", subject=subject)
            return
        if len(self._pending) >= self._max_pending:
            _log.warning("security event dropped: too many in flight", subject=subject)
            return
        task = asyncio.get_running_loop().create_task(self._send(subject, message, msg_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, subject: str, message: BusMessage, msg_id: str) -> None:
        try:
            await self._connector.bus.publish_persistent(
                subject, message, msg_id=msg_id, timeout=self._timeout
            )
        except BusError as exc:
            _log.warning("security event not published", subject=subject, error=str(exc))

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait for the events in flight (at most ``timeout`` seconds), e.g. at shutdown."""
        if not self._pending:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(*self._pending, return_exceptions=True)
