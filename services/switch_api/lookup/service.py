"""Datasets and lookup access: the database side, and what goes to NATS after each commit.

A dataset import reads the whole upload in a worker thread (:mod:`.importer`), stores the
compiled blob in the dataset's chunks — all or nothing, in the request's transaction — and,
once committed, publishes the blob to the object store in the background (a ten-million-row
dataset is ~180 MB; the response does not wait for it). lookup_api swaps the new index in when
the pointer moves. Access grants publish a ``lookupkey`` object at once (before the response).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO

import structlog

from libs.db import DuplicateKey, KeysetPage, UnitOfWork, utcnow
from libs.db.listing import list_page
from libs.db.models import LookupAccess, LookupDataset, Operator
from libs.errors import Conflict, FieldError, NotFound, ValidationFailed
from libs.liveconfig import ConfigPublisher
from libs.liveconfig.snapshot import dataset_blob, lookup_key_config
from libs.lookup import DatasetKind as BlobKind
from services.switch_api.live import LiveConfig
from services.switch_api.lookup.importer import (
    MAX_ERRORS,
    ImportFormatError,
    Progress,
    read_dataset,
)
from services.switch_api.lookup.repository import (
    AccessRepository,
    DatasetRepository,
    UsageRepository,
)
from services.switch_api.lookup.schemas import (
    DatasetCreate,
    DatasetImportProgress,
    DatasetImportResult,
    DatasetUpdate,
    ImportState,
    LookupAccessPut,
)

__all__ = [
    "LOOKUP_KEY",
    "AccessService",
    "DatasetPublisher",
    "DatasetService",
    "ImportTracker",
]

_log = structlog.get_logger(__name__)

LOOKUP_KEY = "lookupkey"
KEEP_FINISHED = 100


@dataclass
class RunningImport:
    import_id: uuid.UUID
    dataset_id: uuid.UUID
    progress: Progress
    state: ImportState = ImportState.RUNNING
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None

    def finish(self, state: ImportState) -> None:
        self.state = state
        self.finished_at = utcnow()

    def view(self) -> DatasetImportProgress:
        return DatasetImportProgress(
            import_id=self.import_id,
            dataset_id=self.dataset_id,
            state=self.state,
            rows_read=self.progress.rows_read,
            bytes_read=self.progress.bytes_read,
            bytes_total=self.progress.bytes_total,
            errors=[
                {"line": e.line, "field": e.field, "message": e.message}
                for e in self.progress.errors
            ],
            started_at=self.started_at,
            finished_at=self.finished_at,
        )


class ImportTracker:
    """Imports of this switch_api process, for ``GET /v1/lookup/imports/{id}``."""

    def __init__(self) -> None:
        self._imports: OrderedDict[uuid.UUID, RunningImport] = OrderedDict()

    def begin(self, import_id: uuid.UUID, dataset_id: uuid.UUID, size: int) -> RunningImport:
        found = self._imports.get(import_id)
        if found is not None and found.state is ImportState.RUNNING:
            raise Conflict(f"Import {import_id} is already running")
        running = RunningImport(import_id, dataset_id, Progress(bytes_total=size))
        self._imports[import_id] = running
        while len(self._imports) > KEEP_FINISHED:
            oldest = next(iter(self._imports))
            if self._imports[oldest].state is ImportState.RUNNING:
                break
            del self._imports[oldest]
        return running

    def get(self, import_id: uuid.UUID) -> RunningImport | None:
        return self._imports.get(import_id)


class DatasetPublisher:
    """Publishes dataset blobs after their commit, in the background (one task per dataset)."""

    def __init__(self, publisher: ConfigPublisher) -> None:
        self._publisher = publisher
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}

    def publish(self, kind: str, dataset_id: uuid.UUID, blob: bytes, version: int) -> None:
        previous = self._tasks.get(dataset_id)

        async def run() -> None:
            if previous is not None:  # keep the versions in order
                with contextlib.suppress(BaseException):
                    await previous
            try:
                started = time.monotonic()
                await self._publisher.put_blob(kind, dataset_id, blob, version=version)
                _log.info(
                    "dataset published",
                    dataset=str(dataset_id),
                    bytes=len(blob),
                    seconds=round(time.monotonic() - started, 2),
                )
            except Exception as exc:
                _log.warning(
                    "dataset not published (reconcile repairs it)",
                    dataset=str(dataset_id),
                    error=str(exc),
                )
            finally:
                if self._tasks.get(dataset_id) is task:
                    del self._tasks[dataset_id]

        task = asyncio.get_running_loop().create_task(run(), name=f"dataset-{dataset_id}")
        self._tasks[dataset_id] = task

    async def idle(self, timeout: float = 120.0) -> None:  # noqa: ASYNC109
        """Wait until every publish started so far has ended (tests, benchmarks)."""
        while self._tasks:
            await asyncio.wait_for(asyncio.gather(*self._tasks.values()), timeout)

    async def stop(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        self._tasks.clear()


def _with_header(blob: bytes, **updates: object) -> bytes:
    end = blob.index(b"\n")
    header = json.loads(blob[:end])
    header.update(updates)
    return json.dumps(header, separators=(",", ":")).encode() + blob[end:]


class DatasetService:
    def __init__(
        self,
        uow: UnitOfWork,
        live: LiveConfig,
        publisher: DatasetPublisher,
        tracker: ImportTracker | None = None,
    ) -> None:
        self.uow = uow
        self.live = live
        self.publisher = publisher
        self.tracker = tracker or ImportTracker()
        self.datasets = DatasetRepository(uow.session)

    async def list(
        self, *, kind: str | None, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[LookupDataset]:
        statement = self.datasets.select()
        if kind is not None:
            statement = statement.where(LookupDataset.kind == kind)
        return await list_page(self.datasets, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, dataset_id: uuid.UUID) -> LookupDataset:
        dataset = await self.datasets.get(dataset_id)
        if dataset is None:
            raise NotFound(f"No lookup dataset with id {dataset_id}")
        return dataset

    async def create(self, data: DatasetCreate) -> LookupDataset:
        dataset = LookupDataset(id=uuid.uuid4(), **data.model_dump())
        try:
            return await self.datasets.add(dataset)
        except DuplicateKey:
            raise Conflict(f"A lookup dataset named {data.name!r} exists already") from None

    async def update(self, dataset_id: uuid.UUID, data: DatasetUpdate) -> LookupDataset:
        dataset = await self.get(dataset_id)
        changes = data.model_dump(exclude_unset=True, exclude_none=True)
        for name, value in changes.items():
            setattr(dataset, name, value)
        try:
            await self.datasets.flush()
        except DuplicateKey:
            raise Conflict(f"A lookup dataset named {data.name!r} exists already") from None
        if dataset.blob_sha256 and ({"name", "priority"} & changes.keys()):
            # lookup_api reads name and priority from the blob's header: republish it.
            blob = _with_header(
                await dataset_blob(self.uow.session, dataset.id),
                name=dataset.name,
                priority=dataset.priority,
            )
            await self._store(dataset, blob, dataset.row_count)
        return dataset

    async def delete(self, dataset_id: uuid.UUID) -> None:
        dataset = await self.get(dataset_id)
        kind = dataset.kind.value
        await self.uow.session.delete(dataset)
        await self.uow.session.flush()
        self.live.delete(self.uow, [(kind, dataset_id)])

    async def import_rows(
        self,
        dataset_id: uuid.UUID,
        upload: IO[bytes],
        *,
        size: int,
        import_id: uuid.UUID,
        header: bool = True,
        delimiter: str = ",",
        prepend: str = "",
    ) -> DatasetImportResult:
        """Replace the dataset's rows with the upload's (all or nothing; errors by line)."""
        started = time.monotonic()
        dataset = await self.get(dataset_id)
        running = self.tracker.begin(import_id, dataset_id, size)
        try:
            try:
                builder = await asyncio.to_thread(
                    read_dataset,
                    BlobKind(dataset.kind.value),
                    upload,
                    running.progress,
                    header=header,
                    delimiter=delimiter,
                    prepend=prepend,
                )
            except ImportFormatError as exc:
                raise ValidationFailed(str(exc), errors=[FieldError(["body"], str(exc))]) from None
            errors = running.progress.errors
            if errors:
                more = "at least " if len(errors) >= MAX_ERRORS else ""
                problems = []
                for error in errors:
                    problem = FieldError(["body", error.line, error.field], error.message)
                    problem["line"] = error.line
                    problems.append(problem)
                raise ValidationFailed(
                    f"{more}{len(errors)} invalid rows: nothing was imported ({errors[0].message})",
                    errors=problems,
                )
            header_fields = {
                "id": str(dataset.id),
                "name": dataset.name,
                "priority": dataset.priority,
            }
            blob = await asyncio.to_thread(builder.compile, header_fields, builder.order)
            rows = len(builder.keys) if builder.order is None else len(builder.order)
            await self._store(dataset, blob, rows)
        except BaseException:
            running.finish(ImportState.FAILED)
            raise
        finish = running.finish

        async def succeeded() -> None:
            finish(ImportState.SUCCEEDED)

        self.uow.after_commit(succeeded)
        return DatasetImportResult(
            import_id=import_id,
            dataset_id=dataset_id,
            rows=rows,
            blob_size=len(blob),
            seconds=round(time.monotonic() - started, 3),
        )

    async def _store(self, dataset: LookupDataset, blob: bytes, rows: int) -> None:
        await self.datasets.replace_blob(dataset.id, blob)
        dataset.row_count = rows
        dataset.blob_size = len(blob)
        dataset.blob_sha256 = hashlib.sha256(blob).hexdigest()
        dataset.imported_at = utcnow()
        await self.datasets.flush()
        kind, dataset_id, version = dataset.kind.value, dataset.id, dataset.version
        publisher = self.publisher

        async def publish() -> None:
            publisher.publish(kind, dataset_id, blob, version)

        self.uow.after_commit(publish)


class AccessService:
    """Which API keys may use lookup_api, with what limits; and their usage."""

    def __init__(self, uow: UnitOfWork, live: LiveConfig) -> None:
        self.uow = uow
        self.live = live
        self.access = AccessRepository(uow.session)
        self.usage = UsageRepository(uow.session)

    async def get(self, api_key_id: uuid.UUID) -> LookupAccess:
        found = await self.access.get_access(api_key_id)
        if found is None:
            raise NotFound(f"API key {api_key_id} has no lookup access")
        return found

    async def put(self, api_key_id: uuid.UUID, data: LookupAccessPut) -> LookupAccess:
        """Grant (or change) a key's lookup access; published to lookup_api at once."""
        key = await self.access.key(api_key_id)
        if key is None:
            raise NotFound(f"No API key with id {api_key_id}")
        if key.revoked_at is not None:
            raise Conflict(f"API key {api_key_id} is revoked")
        access = await self.access.get_access(api_key_id)
        if access is None:
            access = LookupAccess(api_key_id=api_key_id, **data.model_dump())
            self.uow.session.add(access)
        else:
            access.requests_per_second = data.requests_per_second
            access.daily_quota = data.daily_quota
        await self.uow.session.flush()
        owner_sources: list[str] = []
        if key.operator_id is not None:
            operator = await self.uow.session.get(Operator, key.operator_id)
            owner_sources = list(operator.allowed_sources) if operator is not None else []
        self.live.put(self.uow, lookup_key_config(access, key, owner_sources))
        return access

    async def delete(self, api_key_id: uuid.UUID) -> None:
        access = await self.get(api_key_id)
        await self.uow.session.delete(access)
        await self.uow.session.flush()
        self.live.delete(self.uow, [(LOOKUP_KEY, api_key_id)])

    async def usage_between(
        self, api_key_id: uuid.UUID | None, start: date, end: date
    ) -> list[object]:
        return list(await self.usage.between(api_key_id, start, end))
