from __future__ import annotations

import uuid

from libs.db import KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import LoginThrottle
from libs.errors import NotFound
from libs.identity.repositories import ThrottleRepository


class LockoutService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.throttles = ThrottleRepository(uow.session)

    async def list(
        self, *, locked_only: bool, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[LoginThrottle]:
        statement = self.throttles.select().where(LoginThrottle.failures > 0)
        if locked_only:
            statement = statement.where(LoginThrottle.locked_until.is_not(None))
        return await list_page(self.throttles, statement, sort=sort, cursor=cursor, limit=limit)

    async def lift(self, throttle_id: uuid.UUID) -> None:
        row = await self.throttles.get(throttle_id)
        if row is None:
            raise NotFound(f"No login throttle with id {throttle_id}")
        await self.throttles.delete(row)
