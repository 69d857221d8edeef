from __future__ import annotations

import uuid

from libs.db import DuplicateKey, KeysetPage, UnitOfWork
from libs.db.models import Zone
from libs.errors import Conflict, NotFound
from services.switch_api.common import list_page
from services.switch_api.zones.repository import ZoneRepository
from services.switch_api.zones.schemas import ZoneCreate, ZoneUpdate


class ZoneService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.zones = ZoneRepository(uow.session)

    async def list(
        self, *, name_prefix: str | None, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[Zone]:
        statement = self.zones.filtered(name_prefix=name_prefix)
        return await list_page(self.zones, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, zone_id: uuid.UUID) -> Zone:
        zone = await self.zones.get(zone_id)
        if zone is None:
            raise NotFound(f"No zone with id {zone_id}")
        return zone

    async def create(self, data: ZoneCreate) -> Zone:
        try:
            return await self.zones.add(Zone(**data.model_dump()))
        except DuplicateKey:
            raise Conflict(f"A zone named {data.name!r} already exists") from None

    async def update(self, zone_id: uuid.UUID, data: ZoneUpdate) -> Zone:
        zone = await self.get(zone_id)
        for field, value in data.model_dump(exclude_unset=True).items():
            if value is None:
                continue  # a null means "unchanged": no zone field is nullable
            setattr(zone, field, value)
        try:
            await self.zones.flush()
        except DuplicateKey:
            raise Conflict(f"A zone named {data.name!r} already exists") from None
        return zone

    async def delete(self, zone_id: uuid.UUID) -> None:
        await self.zones.delete(await self.get(zone_id))
