"""The bindings a node knows: its own and every other node's, from the registrations bucket.

:class:`BindingTable` is the in-memory view a call or a MESSAGE looks up (by SIP user, in
contact preference order); it holds :class:`~libs.bus.registrations.Registration` values by
key. :class:`BindingStore` keeps it in step with the bucket: it writes this node's changes
(in order, one writer task) and watches every other node's. A node is the authority on what it
wrote: a watched entry older than this node's last write of the key (by stream revision), or
arriving while a write of the key is pending, is its own echo (or stale) and is ignored; a
newer one (the user re-registered through another node, or unregistered there) replaces it.

When NATS is unreachable the table keeps serving what it has; on reconnect the whole bucket is
read again, other nodes' bindings that vanished meanwhile are dropped, and this node's own
bindings missing from the bucket are written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

import structlog
from prometheus_client import Gauge

from libs.bus import REGISTRATIONS_BUCKET, Bus, BusConnector, MessageDecodeError
from libs.bus.registrations import Registration

__all__ = ["BindingStore", "BindingTable"]

_log = structlog.get_logger(__name__)

BINDINGS = Gauge("tandem_registrar_bindings", "SIP bindings known to this node", ["owner"])
_OWN = BINDINGS.labels("own")
_OTHER = BINDINGS.labels("other")

_DELETES = frozenset({"DEL", "PURGE"})
RETRY_DELAY = 1.0

#: ``(old, new)`` after each change of a key (``None``: absent).
Listener = Callable[[Registration | None, Registration | None], None]


class BindingTable:
    """Bindings by key and by SIP user; ``node_id`` names this node's own."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self._by_key: dict[str, Registration] = {}
        self._by_user: dict[uuid.UUID, dict[str, Registration]] = {}
        self.listeners: list[Listener] = []

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Registration]:
        return iter(list(self._by_key.values()))

    def get(self, key: str) -> Registration | None:
        return self._by_key.get(key)

    def of_user(self, sip_user_id: uuid.UUID, now: datetime) -> list[Registration]:
        """The user's live bindings, most preferred first: highest ``q`` (none counts as 1.0),
        then the most recently registered."""
        found = self._by_user.get(sip_user_id)
        if not found:
            return []
        live = [b for b in found.values() if b.expires_at > now]
        live.sort(key=lambda b: (-(1.0 if b.q is None else b.q), -b.registered_at.timestamp()))
        return live

    def put(self, binding: Registration) -> None:
        key = binding.key
        old = self._by_key.get(key)
        self._by_key[key] = binding
        self._by_user.setdefault(binding.sip_user_id, {})[key] = binding
        self._changed(old, binding)

    def remove(self, key: str) -> Registration | None:
        old = self._by_key.pop(key, None)
        if old is None:
            return None
        users = self._by_user.get(old.sip_user_id)
        if users is not None:
            users.pop(key, None)
            if not users:
                del self._by_user[old.sip_user_id]
        self._changed(old, None)
        return old

    def _changed(self, old: Registration | None, new: Registration | None) -> None:
        for binding, step in ((old, -1), (new, 1)):
            if binding is not None:
                (_OWN if binding.node_id == self.node_id else _OTHER).inc(step)
        for listener in self.listeners:
            try:
                listener(old, new)
            except Exception:
                _log.exception("binding listener failed")


class BindingStore:
    """Publishes this node's binding changes and applies every other node's to ``table``."""

    def __init__(
        self,
        connector: BusConnector,
        table: BindingTable,
        *,
        bucket: str = REGISTRATIONS_BUCKET,
    ) -> None:
        self._connector = connector
        self.table = table
        self._bucket = bucket
        self._queue: asyncio.Queue[tuple[str, Registration | None]] = asyncio.Queue()
        self._pending: dict[str, int] = {}
        self._written: dict[str, int] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        #: Set once the bucket's content has been read in.
        self.loaded = asyncio.Event()

    # -- what the registrar calls ------------------------------------------------------------

    def save(self, binding: Registration) -> None:
        """Add or refresh ``binding`` here at once, in the bucket soon."""
        self.table.put(binding)
        self._enqueue(binding.key, binding)

    def drop(self, key: str) -> Registration | None:
        """Remove a binding here at once, from the bucket soon."""
        removed = self.table.remove(key)
        self._enqueue(key, None)
        return removed

    def _enqueue(self, key: str, value: Registration | None) -> None:
        self._pending[key] = self._pending.get(key, 0) + 1
        self._idle.clear()
        self._queue.put_nowait((key, value))

    # -- running -------------------------------------------------------------------------------

    def start(self) -> None:
        if not self._tasks:
            self._stopping = False
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._write_loop(), name="registrations-writer"),
                loop.create_task(self._watch_loop(), name="registrations-watch"),
            ]

    async def flush(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every change made so far is written (tests, shutdown)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def stop(self) -> None:
        with contextlib.suppress(TimeoutError):
            await self.flush(2.0)
        self._stopping = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)

    async def _write_loop(self) -> None:
        while True:
            key, value = await self._queue.get()
            try:
                await self._write(key, value)
            finally:
                left = self._pending.get(key, 1) - 1
                if left > 0:
                    self._pending[key] = left
                else:
                    self._pending.pop(key, None)
                    if not self._pending:
                        self._idle.set()

    async def _write(self, key: str, value: Registration | None) -> None:
        for attempt in range(3):
            try:
                bus = await self._connector.wait_connected(5.0)
                kv = await bus.key_value(self._bucket)
                if value is None:
                    revision = await kv.delete(key)
                    # nats-py's delete returns a bool; read the revision of the marker back.
                    self._written[key] = await self._last_revision(bus, key, revision)
                else:
                    self._written[key] = await kv.put(key, value.to_bytes())
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt == 2:
                    _log.warning("registration not written", key=key, error=str(exc))
                    return
                await asyncio.sleep(0.2 * (attempt + 1))

    async def _last_revision(self, bus: Bus, key: str, fallback: object) -> int:
        info = await bus.js.get_last_msg(f"KV_{self._bucket}", f"$KV.{self._bucket}.{key}")
        seq = getattr(info, "seq", None)
        return int(seq) if seq is not None else (1 if fallback else 0)

    async def _watch_loop(self) -> None:
        while not self._stopping:
            bus = await self._connector.wait_connected()
            try:
                await self._watch(bus)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("registrations watch interrupted", error=str(exc))
            await asyncio.sleep(RETRY_DELAY)

    async def _watch(self, bus: Bus) -> None:
        kv = await bus.key_value(self._bucket)
        # As libs.liveconfig.view: the initial replay ends at the stream's last sequence then.
        last = (await kv.status()).stream_info.state.last_seq
        watcher = await kv.watchall()
        seen: set[str] = set()
        initial = last > 0
        if not initial:
            self._finish_initial(seen)
        try:
            while not self._stopping:
                try:
                    entry = await asyncio.wait_for(
                        watcher.updates(),  # type: ignore[no-untyped-call]
                        timeout=5.0,
                    )
                except TimeoutError:
                    if not bus.is_connected:
                        raise ConnectionError("NATS connection lost") from None
                    continue
                if entry is None:
                    continue
                if initial:
                    seen.add(entry.key)
                self._apply(entry.key, entry.value, entry.operation, entry.revision or 0)
                if initial and (entry.revision or 0) >= last:
                    self._finish_initial(seen)
                    initial = False
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(watcher.stop(), 1.0)  # type: ignore[no-untyped-call]

    def _apply(self, key: str, value: bytes | None, operation: str | None, revision: int) -> None:
        if self._pending.get(key) or revision <= self._written.get(key, 0):
            return  # our own write (or older than it): we know better
        if operation in _DELETES or not value:
            self.table.remove(key)
            return
        try:
            binding = Registration.from_bytes(value)
        except MessageDecodeError as exc:
            _log.warning("registration entry skipped", key=key, error=str(exc))
            return
        if binding.key != key:
            _log.warning("registration entry skipped: key does not match", key=key)
            return
        self.table.put(binding)

    def _finish_initial(self, seen: set[str]) -> None:
        mine = self.table.node_id
        for binding in self.table:
            if binding.key in seen:
                continue
            if binding.node_id == mine:
                self._enqueue(binding.key, binding)  # lost from the bucket: write it again
            else:
                self.table.remove(binding.key)
        self.loaded.set()
