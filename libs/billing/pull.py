"""A continuous JetStream pull: messages flow into a local buffer, the worker takes batches.

nats-py's ``PullSubscription.fetch(n)`` awaits every message through ``next_msg`` (a task and a
``wait_for`` timer per message) and, to return a full batch, waits for the rest of it until its
timeout: large batches cost latency, small ones throughput. Measured on the billing benchmark
it was a third of the worker's time. :class:`Puller` does what nats.go's ``Consume`` does: it
keeps one pull request (``batch`` messages, ``expires`` seconds) outstanding on the durable
consumer, its inbox callback appends deliveries to a buffer, and a new request goes out as soon
as the previous one is done (all delivered, or the server's 404/408/409 status) while the buffer
holds at most one batch, so the next batch travels while the worker commits this one.
:meth:`Puller.take` returns everything buffered (up to ``batch``) as soon as there is anything
(after a 2 ms linger for the rest of a burst): an idle worker bills a CDR the moment it
arrives, a busy one finds a full batch waiting after each commit.

Nothing here acknowledges: the caller acks after its commit. Messages buffered but never
taken (the worker stopped) are simply redelivered after the consumer's ``ack_wait``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque

import structlog
from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription

from libs.bus import Msg

__all__ = ["Puller"]

_log = structlog.get_logger(__name__)

_API = "$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
#: A request the server neither completed nor expired within its expiry plus this is
#: considered lost (a reconnect dropped it) and replaced.
_LOST_AFTER = 2.0
#: How long a worker woken by a first message waits for the rest of the burst.
_LINGER = 0.002


class Puller:
    """Pulls from the durable consumer ``durable`` of ``stream`` into a local buffer."""

    def __init__(
        self, nc: NATS, stream: str, durable: str, *, batch: int, expires: float = 5.0
    ) -> None:
        if batch < 1 or expires <= 0:
            raise ValueError("batch must be >= 1 and expires > 0")
        self._nc = nc
        self._subject = _API.format(stream=stream, durable=durable)
        self.batch = batch
        self._expires = expires
        self._buffer: deque[Msg] = deque()
        self._arrived = asyncio.Event()
        self._inbox = nc.new_inbox()
        self._subscription: Subscription | None = None
        #: Messages the outstanding request may still deliver (0: none outstanding).
        self._outstanding = 0
        self._requested_at = 0.0
        self._backoff_until = 0.0

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(
            self._inbox, cb=self._on_message, pending_msgs_limit=-1, pending_bytes_limit=-1
        )
        await self._request()

    async def stop(self) -> None:
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            await subscription.unsubscribe()

    async def take(self, timeout: float) -> list[Msg]:  # noqa: ASYNC109
        """The buffered messages (up to ``batch``), waiting up to ``timeout`` for one; ``[]``."""
        if not self._buffer:
            self._arrived.clear()
            await self._maintain()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except TimeoutError:
                await self._maintain()
                return []
            # The first message of a burst: give the rest of it a moment to land (a full
            # batch per transaction is far cheaper than many small ones).
            await asyncio.sleep(_LINGER)
        count = min(len(self._buffer), self.batch)
        taken = [self._buffer.popleft() for _ in range(count)]
        await self._maintain()
        return taken

    async def _maintain(self) -> None:
        """Re-issue the pull request if the last one is done (or lost) and the buffer is low."""
        now = time.monotonic()
        if self._outstanding and now - self._requested_at > self._expires + _LOST_AFTER:
            self._outstanding = 0  # lost in a reconnect: the server forgot it
        # Prefetch: the next batch is on its way while the worker commits this one.
        if not self._outstanding and len(self._buffer) <= self.batch and now >= self._backoff_until:
            await self._request()

    async def _request(self) -> None:
        if self._subscription is None or not self._nc.is_connected:
            return
        self._outstanding = self.batch
        self._requested_at = time.monotonic()
        body = {"batch": self.batch, "expires": int(self._expires * 1_000_000_000)}
        await self._nc.publish(self._subject, json.dumps(body).encode(), reply=self._inbox)

    async def _on_message(self, msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get("Status")
        if status is None:
            self._buffer.append(msg)
            self._outstanding = max(0, self._outstanding - 1)
        elif status == "100":
            return  # idle heartbeat
        else:
            # 404 no messages / 408 request expired / 409 (consumer changed, limits): this
            # request is over. A 409 is not retried at once (it would only be refused again).
            self._outstanding = 0
            if status == "409":
                _log.warning("pull request refused", description=headers.get("Description"))
                self._backoff_until = time.monotonic() + 1.0
        await self._maintain()
        self._arrived.set()
