from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, Uuid, delete, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from libs.db import Repository, SortKey
from libs.db.models import Rate, RateCard, RateCardDirection, RateCardRevision

RATES = cast(Table, Rate.__table__)
RATE_COLUMNS = (
    "prefix",
    "destination",
    "rate",
    "connection_fee",
    "initial_increment",
    "subsequent_increment",
    "blocked",
)


class RateCardRepository(Repository[RateCard]):
    model = RateCard
    sort_keys = {
        "name": SortKey(RateCard.name),
        "created_at": SortKey(RateCard.created_at, datetime.fromisoformat),
    }

    def filtered(
        self, *, direction: RateCardDirection | None = None, name_contains: str | None = None
    ) -> Select[tuple[RateCard]]:
        statement = self.select()
        if direction is not None:
            statement = statement.where(RateCard.direction == direction)
        if name_contains:
            statement = statement.where(RateCard.name.icontains(name_contains, autoescape=True))
        return statement


class RevisionRepository(Repository[RateCardRevision]):
    model = RateCardRevision
    sort_keys = {
        "created_at": SortKey(RateCardRevision.created_at, datetime.fromisoformat),
        "effective_from": SortKey(RateCardRevision.effective_from, datetime.fromisoformat),
    }

    def of_card(self, card_id: uuid.UUID) -> Select[tuple[RateCardRevision]]:
        return self.select().where(RateCardRevision.rate_card_id == card_id)

    async def all_of_card(self, card_id: uuid.UUID) -> Sequence[RateCardRevision]:
        return list(
            (
                await self.session.scalars(
                    select(RateCardRevision).where(RateCardRevision.rate_card_id == card_id)
                )
            ).all()
        )

    async def count_dated(self, card_id: uuid.UUID) -> int:
        statement = select(func.count()).where(
            RateCardRevision.rate_card_id == card_id,
            RateCardRevision.effective_from.is_not(None),
        )
        return int(await self.session.scalar(statement) or 0)


class RateRepository:
    """The rates of revisions: bulk writes for imports, keyset reads by prefix, streamed export."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(
        self,
        revision_id: uuid.UUID,
        *,
        after: str | None,
        limit: int,
        prefix_starts: str | None = None,
    ) -> list[Rate]:
        statement = select(Rate).where(Rate.revision_id == revision_id)
        if after is not None:
            statement = statement.where(Rate.prefix > after)
        if prefix_starts:
            statement = statement.where(Rate.prefix.startswith(prefix_starts, autoescape=True))
        statement = statement.order_by(Rate.prefix).limit(limit + 1)
        return list((await self.session.scalars(statement)).all())

    async def get(self, revision_id: uuid.UUID, prefix: str) -> Rate | None:
        return await self.session.get(Rate, (revision_id, prefix))

    async def count(self, revision_id: uuid.UUID) -> int:
        statement = select(func.count()).where(Rate.revision_id == revision_id)
        return int(await self.session.scalar(statement) or 0)

    async def clear(self, revision_id: uuid.UUID) -> None:
        await self.session.execute(delete(Rate).where(Rate.revision_id == revision_id))

    async def insert_many(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            # The table, not the entity: a Core executemany, without the ORM's bulk bookkeeping.
            await self.session.execute(insert(RATES), rows)

    async def upsert_many(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        dialect = self.session.get_bind().dialect.name
        module: Any = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(RATES)
        statement = statement.on_conflict_do_update(
            index_elements=["revision_id", "prefix"],
            set_={name: statement.excluded[name] for name in RATE_COLUMNS if name != "prefix"},
        )
        await self.session.execute(statement, rows)

    async def delete_one(self, rate: Rate) -> None:
        await self.session.delete(rate)
        await self.session.flush()

    async def copy(self, source: uuid.UUID, target: uuid.UUID) -> None:
        """Copy every rate of ``source`` into ``target`` (one INSERT … SELECT)."""
        columns = [getattr(Rate, name) for name in RATE_COLUMNS]
        chosen = select(literal(target, type_=Uuid()).label("revision_id"), *columns).where(
            Rate.revision_id == source
        )
        await self.session.execute(insert(Rate).from_select(["revision_id", *RATE_COLUMNS], chosen))
