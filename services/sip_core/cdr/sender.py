"""Publishing CDRs to JetStream, falling back to the durable spool while NATS is away."""

from __future__ import annotations

import asyncio

import structlog
from prometheus_client import Counter

from libs.bus import BusConnector, BusError
from libs.bus.cdr import CDR_SUBJECT, CallEnded
from libs.bus.tasks import cancel_and_wait
from services.sip_core.cdr.spool import CdrSpool

__all__ = ["CdrSender"]

_log = structlog.get_logger(__name__)

CDRS_PUBLISHED = Counter("tandem_cdrs_published_total", "CDRs acknowledged by JetStream")


class CdrSender:
    """Sends every CDR exactly once as far as billing is concerned.

    A CDR goes straight to JetStream (``Nats-Msg-Id`` = call id) when NATS is up and nothing is
    waiting in the spool; otherwise — or if the publish fails or times out, when its outcome is
    unknown — it goes to the spool, which a background task drains in order once NATS answers.
    A timed-out publish that was in fact stored is stored again at most as a duplicate that
    JetStream's de-duplication window and billing's unique call id both absorb.
    """

    def __init__(
        self,
        connector: BusConnector,
        spool: CdrSpool,
        *,
        subject: str = CDR_SUBJECT,
        timeout: float = 2.0,
        drain_interval: float = 1.0,
    ) -> None:
        self._connector = connector
        self._spool = spool
        self._subject = subject
        self._timeout = timeout
        self._drain_interval = drain_interval
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one drain at a time, and no direct send while draining

    async def send(self, cdr: CallEnded) -> None:
        """Publish ``cdr`` now, or spool it durably; never raises for a NATS failure."""
        if self._connector.connected and not self._spool.backlog and not self._lock.locked():
            try:
                await self._publish(cdr)
                return
            except BusError as exc:
                _log.warning("CDR publish failed; spooling", call_id=cdr.call_id, error=str(exc))
        await asyncio.to_thread(self._spool.append, cdr)

    async def _publish(self, cdr: CallEnded) -> None:
        bus = self._connector.bus
        await bus.publish_persistent(self._subject, cdr, msg_id=cdr.call_id, timeout=self._timeout)
        CDRS_PUBLISHED.inc()

    async def drain(self) -> int:
        """Send what the spool holds, oldest first; return how many CDRs were acknowledged."""
        sent = 0
        async with self._lock:
            self._spool.rotate()
            for segment in self._spool.closed_segments():
                records = await asyncio.to_thread(self._spool.read, segment)
                for cdr in records:
                    await self._publish(cdr)  # a BusError stops the drain: retried later
                    sent += 1
                await asyncio.to_thread(self._spool.remove, segment, len(records))
        if sent:
            _log.info("spooled CDRs sent", count=sent, backlog=self._spool.backlog)
        return sent

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cdr-drain")

    async def stop(self) -> None:
        """Stop draining (what remains stays spooled for the next start)."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._drain_interval)
            if not (self._connector.connected and self._spool.backlog):
                continue
            try:
                await self.drain()
            except BusError as exc:
                _log.warning("spool drain interrupted; will retry", error=str(exc))
            except Exception:  # the drain loop must survive a bug
                _log.exception("spool drain failed")
