from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.db import Repository, SortKey
from libs.db.models import (
    ApiKey,
    LookupAccess,
    LookupDataset,
    LookupDatasetChunk,
    LookupUsage,
)
from libs.db.models.lookup import CHUNK_SIZE


class DatasetRepository(Repository[LookupDataset]):
    model = LookupDataset
    sort_keys = {
        "name": SortKey(LookupDataset.name),
        "created_at": SortKey(LookupDataset.created_at, datetime.fromisoformat),
    }

    async def replace_blob(self, dataset_id: uuid.UUID, blob: bytes) -> None:
        """Store ``blob`` as the dataset's chunks, instead of the ones it had."""
        await self.session.execute(
            delete(LookupDatasetChunk).where(LookupDatasetChunk.dataset_id == dataset_id)
        )
        view = memoryview(blob)
        for seq, start in enumerate(range(0, len(blob), CHUNK_SIZE)):
            await self.session.execute(
                insert(LookupDatasetChunk).values(
                    dataset_id=dataset_id, seq=seq, data=bytes(view[start : start + CHUNK_SIZE])
                )
            )


class AccessRepository(Repository[LookupAccess]):
    model = LookupAccess
    sort_keys = {"created_at": SortKey(LookupAccess.created_at, datetime.fromisoformat)}

    async def key(self, api_key_id: uuid.UUID) -> ApiKey | None:
        return await self.session.get(ApiKey, api_key_id)

    async def get_access(self, api_key_id: uuid.UUID) -> LookupAccess | None:
        return await self.session.get(LookupAccess, api_key_id)


class UsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, api_key_id: uuid.UUID, day: date, requests: int, refused: int) -> None:
        """Add to a key's counters of ``day`` (creating them)."""
        row = await self.session.get(LookupUsage, (api_key_id, day), with_for_update=True)
        if row is None:
            exists = await self.session.get(ApiKey, api_key_id)
            if exists is None:
                return  # a key deleted meanwhile: its usage goes with it
            self.session.add(
                LookupUsage(api_key_id=api_key_id, day=day, requests=requests, refused=refused)
            )
        else:
            row.requests += requests
            row.refused += refused
        await self.session.flush()

    async def between(
        self, api_key_id: uuid.UUID | None, start: date, end: date
    ) -> Sequence[LookupUsage]:
        statement = select(LookupUsage).where(LookupUsage.day >= start, LookupUsage.day <= end)
        if api_key_id is not None:
            statement = statement.where(LookupUsage.api_key_id == api_key_id)
        statement = statement.order_by(LookupUsage.day, LookupUsage.api_key_id)
        return (await self.session.scalars(statement)).all()
