"""In-process progress of rate imports, for ``GET /v1/rate-imports/{id}``.

An import runs inside its upload request (one transaction: all or nothing), so its progress
lives in the memory of the switch_api process running it; a client names the import
(``import_id``) and polls it from a second connection. With several switch_api replicas, poll
the one that took the upload (sticky sessions), or rely on the final response alone.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from libs.db import utcnow
from services.switch_api.rate_cards.schemas import ImportProgress, ImportState

__all__ = ["ImportTracker", "RunningImport"]

KEEP_FINISHED = 100


@dataclass
class RunningImport:
    import_id: uuid.UUID
    revision_id: uuid.UUID
    bytes_total: int
    state: ImportState = ImportState.RUNNING
    rows_read: int = 0
    bytes_read: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None

    def finish(self, state: ImportState, errors: list[dict[str, Any]] | None = None) -> None:
        self.state = state
        self.errors = list(errors or [])
        self.finished_at = utcnow()
        if state is ImportState.SUCCEEDED:
            self.bytes_read = self.bytes_total

    def view(self) -> ImportProgress:
        return ImportProgress(
            import_id=self.import_id,
            revision_id=self.revision_id,
            state=self.state,
            rows_read=self.rows_read,
            bytes_read=self.bytes_read,
            bytes_total=self.bytes_total,
            errors=self.errors,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )


class ImportTracker:
    def __init__(self) -> None:
        self._imports: OrderedDict[uuid.UUID, RunningImport] = OrderedDict()

    def begin(self, import_id: uuid.UUID, revision_id: uuid.UUID, size: int) -> RunningImport:
        running = RunningImport(import_id, revision_id, size)
        self._imports[import_id] = running
        while len(self._imports) > KEEP_FINISHED:
            oldest = next(iter(self._imports))
            if self._imports[oldest].state is ImportState.RUNNING:
                break
            del self._imports[oldest]
        return running

    def running(self, import_id: uuid.UUID) -> bool:
        found = self._imports.get(import_id)
        return found is not None and found.state is ImportState.RUNNING

    def get(self, import_id: uuid.UUID) -> RunningImport | None:
        return self._imports.get(import_id)
