"""The writing side: switch_api publishes committed configuration to the bucket.

Writes reach NATS only after the database commit (:meth:`ConfigPublisher.stage` registers an
after-commit effect), so no node ever sees configuration that a rollback undid. If NATS is down
at that moment the write still succeeds — the database is the source of truth — and the
publish is repaired by :meth:`ConfigPublisher.reconcile`, which ``tandem config publish`` and
switch_api's start-up run.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import structlog
from prometheus_client import Counter

from libs.bus import BLOB_STORE, CONFIG_BUCKET, Bus, BusConnector, BusError
from libs.db import UnitOfWork
from libs.liveconfig.objects import BlobPointer, ConfigObject, config_key, split_key

__all__ = ["ConfigPublisher", "ReconcileReport"]

_log = structlog.get_logger(__name__)

PUBLISHED = Counter(
    "tandem_config_published_total", "Configuration keys written to NATS", ["operation"]
)
PUBLISH_FAILURES = Counter(
    "tandem_config_publish_failures_total",
    "Configuration publishes that failed (repaired by the reconciler)",
)

#: How many blob versions of one object the store keeps: the current one and the previous,
#: which a consumer may still be downloading.
BLOBS_KEPT = 2


@dataclass
class ReconcileReport:
    """What a reconcile changed in the bucket."""

    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0


class ConfigPublisher:
    """Publishes configuration objects to the configuration bucket (one key per object)."""

    def __init__(
        self,
        connector: BusConnector | None,
        *,
        bucket: str = CONFIG_BUCKET,
        blob_store: str = BLOB_STORE,
    ) -> None:
        self._connector = connector
        self._bucket = bucket
        self._blob_store = blob_store

    def stage(
        self,
        uow: UnitOfWork,
        *,
        put: Iterable[ConfigObject] = (),
        delete: Iterable[tuple[str, uuid.UUID]] = (),
    ) -> None:
        """Publish ``put`` and ``delete`` once ``uow`` commits (never for a rollback)."""
        puts, deletes = list(put), list(delete)

        async def publish() -> None:
            await self.publish(put=puts, delete=deletes)

        uow.after_commit(publish)

    async def publish(
        self,
        *,
        put: Iterable[ConfigObject] = (),
        delete: Iterable[tuple[str, uuid.UUID]] = (),
    ) -> bool:
        """Write ``put`` and delete ``delete`` now; ``False`` (logged) if NATS is unreachable."""
        bus = self._bus()
        if bus is None:
            PUBLISH_FAILURES.inc()
            _log.warning("configuration not published: NATS unreachable (reconcile repairs it)")
            return False
        try:
            kv = await bus.key_value(self._bucket)
            for obj in put:
                await kv.put(obj.key, obj.to_bytes())
                PUBLISHED.labels("put").inc()
            for kind, object_id in delete:
                await kv.delete(config_key(kind, object_id))
                PUBLISHED.labels("delete").inc()
        except Exception as exc:
            PUBLISH_FAILURES.inc()
            _log.warning("configuration publish failed (reconcile repairs it)", error=str(exc))
            return False
        return True

    async def put_blob(
        self, of: str, object_id: uuid.UUID, data: bytes, *, version: int = 0
    ) -> BlobPointer:
        """Store ``data`` in the object store, then point ``<of>.<object_id>`` at it.

        The pointer is written after the blob is complete, so consumers never load half a blob;
        older blobs of the object beyond :data:`BLOBS_KEPT` are removed afterwards.
        """
        bus = self._require_bus()
        digest = hashlib.sha256(data).hexdigest()
        name = f"{of}.{object_id}.{digest[:16]}"
        store = await bus.object_store(self._blob_store)
        await store.put(name, data)
        pointer = BlobPointer(
            id=object_id, of=of, name=name, size=len(data), sha256=digest, version=version
        )
        kv = await bus.key_value(self._bucket)
        await kv.put(pointer.key, pointer.to_bytes())
        await self._prune_blobs(bus, f"{of}.{object_id}.", keep=name)
        return pointer

    async def _prune_blobs(self, bus: Bus, prefix: str, *, keep: str) -> None:
        store = await bus.object_store(self._blob_store)
        try:
            infos = await store.list()
        except Exception:
            return
        mine = sorted(
            (i for i in infos if i.name and i.name.startswith(prefix) and not i.deleted),
            key=lambda i: i.mtime or "",
            reverse=True,
        )
        survivors = {keep} | {i.name for i in mine[:BLOBS_KEPT] if i.name}
        for info in mine:
            if info.name and info.name not in survivors:
                await store.delete(info.name)

    async def reconcile(
        self, objects: Iterable[ConfigObject], *, kinds: Collection[str]
    ) -> ReconcileReport:
        """Make the bucket's keys of ``kinds`` exactly ``objects``: write what differs, delete
        what the database no longer has. Blob pointers are left to their own publisher."""
        bus = self._require_bus()
        kv = await bus.key_value(self._bucket)
        wanted = {obj.key: obj for obj in objects}
        report = ReconcileReport()
        present: set[str] = set()
        try:
            keys = await kv.keys()
        except Exception:
            keys = []
        for key in keys:
            try:
                kind, _ = split_key(key)
            except ValueError:
                continue
            if kind in kinds:
                present.add(key)
        for key, obj in wanted.items():
            data = obj.to_bytes()
            if key in present:
                entry = await kv.get(key)
                if entry.value == data:
                    report.unchanged += 1
                    continue
            await kv.put(key, data)
            report.written.append(key)
        for key in sorted(present - wanted.keys()):
            await kv.delete(key)
            report.deleted.append(key)
        return report

    def require_bus(self) -> Bus:
        """The connected bus; :class:`~libs.bus.BusError` while NATS is unreachable."""
        return self._require_bus()

    def _bus(self) -> Bus | None:
        if self._connector is None or not self._connector.connected:
            return None
        return self._connector.bus

    def _require_bus(self) -> Bus:
        bus = self._bus()
        if bus is None:
            raise BusError("NATS is unreachable: configuration cannot be published now")
        return bus
