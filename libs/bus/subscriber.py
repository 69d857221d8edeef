"""A queue-group subscription kept alive for as long as a service runs.

:class:`QueueSubscriber` subscribes once NATS is reachable, stays subscribed across reconnects
(nats-py resubscribes by itself), subscribes again if the connection was replaced, and stops
cleanly — even when a cancellation was swallowed inside nats-py (see :mod:`libs.bus.tasks`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from libs.bus.client import BusConnector
from libs.bus.tasks import cancel_and_wait

__all__ = ["QueueSubscriber"]

_log = structlog.get_logger(__name__)

RETRY_DELAY = 1.0


class QueueSubscriber:
    """Runs ``handler`` for every message on ``subject``, one member of ``queue`` at a time."""

    def __init__(
        self,
        connector: BusConnector,
        subject: str,
        handler: Callable[[Msg], Awaitable[None]],
        *,
        queue: str,
        name: str,
    ) -> None:
        self._connector = connector
        self.subject = subject
        self.queue = queue
        self.name = name
        self._handler = handler
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._stopping = False
        #: Set while subscribed (tests wait on it).
        self.ready = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._stopping = True
        await cancel_and_wait(task)
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(subscription.unsubscribe(), 1.0)

    async def _run(self) -> None:
        while not self._stopping:
            bus = await self._connector.wait_connected()
            try:
                self._subscription = await bus.subscribe(
                    self.subject, self._handler, queue=self.queue
                )
                self.ready.set()
                while bus.is_connected and not self._stopping:  # noqa: ASYNC110 - see module
                    await asyncio.sleep(RETRY_DELAY)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("subscription interrupted", subscriber=self.name, error=str(exc))
            self.ready.clear()
            await asyncio.sleep(RETRY_DELAY)
