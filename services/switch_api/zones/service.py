from __future__ import annotations

import builtins
import uuid

from libs.db import DuplicateKey, KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import IpAuthEntry, Route, Zone
from libs.errors import Conflict, NotFound
from libs.liveconfig import ConfigObject
from libs.liveconfig.snapshot import ipauth_config, route_config
from services.switch_api.dependents import Dependents
from services.switch_api.live import LiveConfig
from services.switch_api.zones.repository import ZoneRepository
from services.switch_api.zones.schemas import ZoneCreate, ZoneUpdate


class ZoneService:
    def __init__(self, uow: UnitOfWork, live: LiveConfig | None = None) -> None:
        self.uow = uow
        self.live = live
        self.zones = ZoneRepository(uow.session)
        self.dependents = Dependents(uow.session)

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
        await self._republish_users(zone_id)
        return zone

    async def delete(self, zone_id: uuid.UUID) -> None:
        routes = await self.dependents.routes_in_zone(zone_id)
        entries = await self.dependents.entries_in_zone(zone_id)
        await self.zones.delete(await self.get(zone_id))
        if self.live is None:
            return
        # The database set their media zone to NULL: publish them without it.
        for row in (*routes, *entries):
            await self.uow.session.refresh(row)
        await self._publish(routes, entries)

    async def _republish_users(self, zone_id: uuid.UUID) -> None:
        """Routes and IP auth entries carry their media zone's name: a rename reaches them."""
        if self.live is None:
            return
        await self._publish(
            await self.dependents.routes_in_zone(zone_id),
            await self.dependents.entries_in_zone(zone_id),
        )

    async def _publish(
        self, routes: builtins.list[Route], entries: builtins.list[IpAuthEntry]
    ) -> None:
        assert self.live is not None
        zones = await self.dependents.zones()
        objects: list[ConfigObject] = [route_config(r, zones) for r in routes]
        objects += [ipauth_config(e, zones) for e in entries]
        if objects:
            self.live.put(self.uow, *objects)
