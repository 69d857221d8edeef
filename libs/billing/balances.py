"""Publishing balances to the live configuration: newest version wins, whoever writes last.

Several billing workers and switch_api all publish ``balance.<customer>`` after their commits,
and their publishes can overtake one another. A plain ``put`` would let an older figure land
last and stay in the bucket (a node that restarts would read it), so a publish here is a
compare-and-set: read the key, and write only if what is there is older, with the revision it
read as the expected last revision (``KV update``); on a race, read again.

:class:`BalancePublisher` coalesces: a worker :meth:`~BalancePublisher.offer` s the new
balances after each commit and goes on with the next batch; a background task writes the newest
offered version of each customer. If NATS is unreachable the balances wait (newest kept) and
are written when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterable

import structlog
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from prometheus_client import Counter

from libs.bus import CONFIG_BUCKET, BusConnector, KeyValue
from libs.bus.tasks import cancel_and_wait
from libs.liveconfig import ConfigDecodeError
from libs.liveconfig.models import BalanceConfig

__all__ = ["BalancePublisher", "put_newer"]

_log = structlog.get_logger(__name__)

PUBLISHED = Counter("tandem_billing_balances_published_total", "Balance objects written")
STALE = Counter(
    "tandem_billing_balances_superseded_total", "Balance publishes skipped: a newer one was there"
)

_ATTEMPTS = 8
RETRY_DELAY = 1.0


async def put_newer(
    kv: KeyValue, balance: BalanceConfig, known: dict[str, tuple[int, int]] | None = None
) -> bool:
    """Write ``balance`` unless the bucket holds the same or a newer version; ``True`` if written.

    ``known`` remembers ``(revision, version)`` of this writer's own last write per key: while
    nobody else wrote the key since, an update expecting that revision succeeds without reading
    the key first (half the round trips); if someone did, it fails and the key is read as usual.
    Raises the bus's errors (the caller retries later).
    """
    data = balance.to_bytes()
    mine = known.get(balance.key) if known is not None else None
    if mine is not None and mine[1] < balance.version:
        with contextlib.suppress(KeyWrongLastSequenceError):
            revision = await kv.update(balance.key, data, last=mine[0])
            _remember(known, balance, revision)
            return True
    for _ in range(_ATTEMPTS):
        try:
            entry = await kv.get(balance.key)
        except KeyNotFoundError:
            try:
                _remember(known, balance, await kv.create(balance.key, data))
                return True
            except KeyWrongLastSequenceError:
                continue
        if entry.value:
            try:
                if BalanceConfig.from_bytes(entry.value).version >= balance.version:
                    STALE.inc()
                    return False
            except ConfigDecodeError:
                pass  # unreadable: replace it
        try:
            _remember(known, balance, await kv.update(balance.key, data, last=entry.revision))
            return True
        except KeyWrongLastSequenceError:
            continue
    _log.warning("balance publish lost every race; the next change repairs it", key=balance.key)
    return False


def _remember(
    known: dict[str, tuple[int, int]] | None, balance: BalanceConfig, revision: int
) -> None:
    if known is not None:
        known[balance.key] = (revision, balance.version)


class BalancePublisher:
    """Writes the newest offered balance of each customer, in the background."""

    def __init__(
        self,
        connector: BusConnector | None,
        *,
        bucket: str = CONFIG_BUCKET,
        min_interval: float = 0.0,
    ) -> None:
        self._connector = connector
        #: Seconds between two rounds of writes: a busy worker's balances of a customer
        #: coalesce over that window (one KV write instead of one per batch).
        self._min_interval = min_interval
        self._last_round = 0.0
        self._bucket = bucket
        self._pending: dict[uuid.UUID, BalanceConfig] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        #: ``(revision, version)`` of this publisher's last write per key (see put_newer).
        self._known: dict[str, tuple[int, int]] = {}

    def offer(self, balances: Iterable[BalanceConfig]) -> None:
        """Publish ``balances`` soon (a newer offer of the same customer replaces an older)."""
        for balance in balances:
            pending = self._pending.get(balance.id)
            if pending is None or pending.version < balance.version:
                self._pending[balance.id] = balance
        if self._pending and self._connector is not None:
            self._idle.clear()
            self._wake.set()
            if self._task is None:
                self._task = asyncio.get_running_loop().create_task(
                    self._run(), name="balance-publisher"
                )

    async def publish(self, balances: Iterable[BalanceConfig]) -> None:
        """Offer ``balances`` and wait (bounded) until they are written — not at all while NATS
        is unreachable (they are written when it comes back; the request need not wait)."""
        self.offer(balances)
        if self._connector is None or not self._connector.connected:
            return
        with contextlib.suppress(TimeoutError):
            await self.idle(timeout=5.0)

    async def idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until every offered balance has been written (tests, shutdown)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def stop(self) -> None:
        """Write what is pending (bounded), then stop."""
        if self._pending:
            with contextlib.suppress(TimeoutError):
                await self.idle(timeout=5.0)
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        assert self._connector is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                wait = self._last_round + self._min_interval - time.monotonic()
                if wait > 0:  # an idle publisher writes at once; a busy one every interval
                    await asyncio.sleep(wait)
                self._last_round = time.monotonic()
                try:
                    bus = await self._connector.wait_connected()
                    kv = await bus.key_value(self._bucket)
                    batch, self._pending = self._pending, {}
                    try:
                        await asyncio.gather(*(self._put(kv, b) for b in batch.values()))
                    except Exception:
                        for balance in batch.values():  # keep them unless newer ones came
                            self._pending.setdefault(balance.id, balance)
                        raise
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    _log.warning("balances not published yet; retrying", error=str(exc))
                    await asyncio.sleep(RETRY_DELAY)
            self._idle.set()

    async def _put(self, kv: KeyValue, balance: BalanceConfig) -> None:
        if await put_newer(kv, balance, self._known):
            PUBLISHED.inc()
