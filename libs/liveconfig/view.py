"""The reading side: a node's live view of the configuration.

A :class:`ConfigView` loads every key of the kinds it cares about, then keeps watching the
bucket; each change updates its in-memory snapshot and is handed to ``on_change`` so the node
rebuilds its indexes (new calls use them at once). If NATS goes away the view keeps the last
configuration it saw, and when NATS comes back it re-reads everything, dropping keys deleted
meanwhile. Blob pointers are resolved: the blob is downloaded, checked against its digest and
handed to the kind's loader, and the loaded value replaces the old one in one assignment, so a
reader never sees half a dataset.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Counter, Gauge

from libs.bus import BLOB_STORE, CONFIG_BUCKET, Bus, BusConnector
from libs.liveconfig.errors import BlobIntegrityError, ConfigDecodeError
from libs.liveconfig.objects import BlobPointer, ConfigObject, split_key

__all__ = ["Change", "ConfigView"]

_log = structlog.get_logger(__name__)

APPLIED = Counter("tandem_config_changes_applied_total", "Configuration changes applied", ["kind"])
SKIPPED = Counter("tandem_config_entries_skipped_total", "Configuration entries not applied")
CONNECTED = Gauge("tandem_config_watch_connected", "1 while the configuration watch is live")

_DELETE_OPERATIONS = frozenset({"DEL", "PURGE"})
RETRY_DELAY = 1.0


@dataclass(frozen=True, slots=True)
class Change:
    """One applied change: ``new`` is ``None`` for a deletion, ``old`` for a creation."""

    kind: str
    id: uuid.UUID
    old: Any
    new: Any


OnChange = Callable[[list[Change]], None]
BlobLoader = Callable[[bytes, BlobPointer], Any]


class ConfigView:
    """The current configuration of the kinds in ``models`` (and blob kinds in ``blobs``).

    ``models`` maps a kind to its :class:`ConfigObject` type; ``blobs`` maps a blob kind
    (``ratecard`` …) to a loader turning the blob's bytes into the value :meth:`get` returns.
    ``on_change`` runs in the event loop after each batch of changes (the whole initial load is
    one batch); it must be quick and must not raise (a raise is logged and ignored).
    """

    def __init__(
        self,
        connector: BusConnector,
        models: Mapping[str, type[ConfigObject]],
        *,
        blobs: Mapping[str, BlobLoader] | None = None,
        on_change: OnChange | None = None,
        bucket: str = CONFIG_BUCKET,
        blob_store: str = BLOB_STORE,
    ) -> None:
        self._connector = connector
        self._models = dict(models)
        self._blobs = dict(blobs or {})
        self._on_change = on_change
        self._bucket = bucket
        self._blob_store = blob_store
        self._data: dict[str, dict[uuid.UUID, Any]] = {k: {} for k in (*self._models, *self._blobs)}
        self._pointers: dict[str, BlobPointer] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: Set once the first complete load has been applied.
        self.loaded = asyncio.Event()
        #: True while the watch is live (False while NATS is unreachable: serving last-good).
        self.live = False

    # -- reading -----------------------------------------------------------------------------

    def all(self, kind: str) -> Mapping[uuid.UUID, Any]:
        """Every object of ``kind`` by id (a live mapping: do not mutate)."""
        return self._data[kind]

    def get(self, kind: str, object_id: uuid.UUID) -> Any:
        return self._data[kind].get(object_id)

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="config-view")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        # Python 3.11's wait_for can swallow a cancellation that races its inner future, so
        # cancel until the task has really ended (the loops also check ``_stopping``).
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        self._set_live(False)

    async def _run(self) -> None:
        while not self._stopping:
            bus = await self._connector.wait_connected()
            try:
                await self._watch(bus)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("configuration watch interrupted; serving last-good", error=str(exc))
            self._set_live(False)
            await asyncio.sleep(RETRY_DELAY)

    async def _watch(self, bus: Bus) -> None:
        kv = await bus.key_value(self._bucket)
        # The initial replay ends with the entry that was the stream's last when the watch began.
        # (nats-py's own "initial values done" marker can come before the values on a busy
        # server, and trusting it here would drop every object after a reconnect.)
        last = (await kv.status()).stream_info.state.last_seq
        watcher = await kv.watchall()
        try:
            seen: set[str] = set()
            batch: list[Change] = []
            initial = True
            if last == 0:
                self._finish_initial(batch, seen)
                initial = False
            while not self._stopping:
                # A silent watch is normal; wake up now and then to notice a dead connection.
                try:
                    entry = await asyncio.wait_for(
                        watcher.updates(),  # type: ignore[no-untyped-call]
                        timeout=5.0,
                    )
                except TimeoutError:
                    if not bus.is_connected:
                        raise ConnectionError("NATS connection lost") from None
                    continue
                if entry is None:  # nats-py's marker: meaningless here (see above)
                    continue
                change = await self._apply(bus, entry.key, entry.value, entry.operation)
                if not initial:
                    if change is not None:
                        self._emit([change])
                    continue
                seen.add(entry.key)
                if change is not None:
                    batch.append(change)
                if entry.revision is not None and entry.revision >= last:
                    self._finish_initial(batch, seen)
                    initial = False
        finally:
            # nats-py's unsubscribe can wait on a dead connection: never let it hold us.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(watcher.stop(), 1.0)  # type: ignore[no-untyped-call]

    def _finish_initial(self, batch: list[Change], seen: set[str]) -> None:
        batch += self._drop_unseen(seen)
        self._set_live(True)
        self._emit(batch)
        self.loaded.set()

    async def _apply(
        self, bus: Bus, key: str, value: bytes | None, operation: str | None
    ) -> Change | None:
        try:
            kind, raw_id = split_key(key)
            object_id = uuid.UUID(raw_id)
        except ValueError:
            return None
        if kind not in self._data:
            return None
        store = self._data[kind]
        old = store.get(object_id)
        if operation in _DELETE_OPERATIONS or not value:
            if old is None:
                return None
            del store[object_id]
            self._pointers.pop(key, None)
            return self._applied(Change(kind, object_id, old, None))
        try:
            if kind in self._blobs:
                pointer = BlobPointer.from_bytes(value)
                if self._pointers.get(key) == pointer:
                    return None
                new = self._blobs[kind](await self._download(bus, pointer), pointer)
                self._pointers[key] = pointer
            else:
                new = self._models[kind].from_bytes(value)
                if old is not None and new.version < old.version:
                    return None  # an older write overtaken by a newer one
        except (ConfigDecodeError, BlobIntegrityError) as exc:
            SKIPPED.inc()
            _log.warning("configuration entry skipped", key=key, error=str(exc))
            return None
        except Exception as exc:
            SKIPPED.inc()
            _log.exception("configuration entry failed to load", key=key, error=str(exc))
            return None
        store[object_id] = new
        return self._applied(Change(kind, object_id, old, new))

    async def _download(self, bus: Bus, pointer: BlobPointer) -> bytes:
        store = await bus.object_store(self._blob_store)
        # Into a buffer: without ``writeinto`` nats-py joins the chunks with ``bytes +=``, which
        # is quadratic (a 180 MB dataset took minutes instead of seconds).
        buffer = io.BytesIO()
        await store.get(pointer.name, writeinto=buffer)
        data = buffer.getvalue()
        if len(data) != pointer.size or hashlib.sha256(data).hexdigest() != pointer.sha256:
            raise BlobIntegrityError(f"blob {pointer.name} does not match its pointer")
        return data

    def _drop_unseen(self, seen: set[str]) -> list[Change]:
        """After a re-watch, forget objects whose keys were deleted while we were away."""
        dropped: list[Change] = []
        for kind, store in self._data.items():
            for object_id in [i for i in store if f"{kind}.{i}" not in seen]:
                dropped.append(self._applied(Change(kind, object_id, store.pop(object_id), None)))
        return dropped

    def _applied(self, change: Change) -> Change:
        APPLIED.labels(change.kind).inc()
        return change

    def _emit(self, changes: list[Change]) -> None:
        if not changes or self._on_change is None:
            return
        try:
            self._on_change(changes)
        except Exception:
            _log.exception("configuration change handler failed")

    def _set_live(self, live: bool) -> None:
        self.live = live
        CONNECTED.set(1 if live else 0)
