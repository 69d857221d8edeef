from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from libs.db.models.lookup import DatasetKind


class Dataset(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: DatasetKind
    description: str
    priority: int = Field(description="LRN/CNAM: the lowest priority holding a number answers.")
    row_count: int
    blob_size: int = Field(description="Bytes of the compiled dataset lookup_api loads.")
    blob_sha256: str
    imported_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class DatasetCreate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: DatasetKind
    description: Annotated[str, Field(max_length=2000)] = ""
    priority: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class DatasetUpdate(BaseModel):
    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    description: Annotated[str | None, Field(max_length=2000)] = None
    priority: Annotated[int | None, Field(ge=0, le=1_000_000)] = None


class ImportState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DatasetImportResult(BaseModel):
    import_id: uuid.UUID
    dataset_id: uuid.UUID
    rows: int
    blob_size: int
    seconds: float


class DatasetImportProgress(BaseModel):
    import_id: uuid.UUID
    dataset_id: uuid.UUID
    state: ImportState
    rows_read: int
    bytes_read: int
    bytes_total: int
    errors: list[dict[str, Any]]
    started_at: datetime
    finished_at: datetime | None


class LookupAccess(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    api_key_id: uuid.UUID
    requests_per_second: int = Field(description="Lookups a second (0: no limit).")
    daily_quota: int = Field(description="Lookups per UTC day (0: no quota).")
    created_at: datetime
    updated_at: datetime


class LookupAccessPut(BaseModel):
    requests_per_second: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    daily_quota: Annotated[int, Field(ge=0, le=10**12)] = 0


class Usage(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    api_key_id: uuid.UUID
    day: date
    requests: int = Field(description="Lookups answered (a batch counts one per number).")
    refused: int = Field(description="Requests refused by the rate limit or quota.")
