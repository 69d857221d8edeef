"""The base every repository builds on: get, keyset listing, add, delete — all SQL lives here."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar, cast

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.db.base import Base
from libs.db.pagination import KeysetPage, SortKey, keyset_page

__all__ = ["DuplicateKey", "Repository"]

M = TypeVar("M", bound=Base)


class DuplicateKey(Exception):
    """An insert or update collided with a unique constraint (``constraint`` names it)."""

    def __init__(self, constraint: str | None) -> None:
        super().__init__(constraint or "unique constraint")
        self.constraint = constraint


class Repository(Generic[M]):
    """Data access for one model. Subclasses set ``model`` and ``sort_keys`` and add queries."""

    model: ClassVar[type[Any]]
    sort_keys: ClassVar[Mapping[str, SortKey]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def select(self) -> Select[tuple[M]]:
        return cast(Select[tuple[M]], select(self.model))

    async def get(self, object_id: uuid.UUID) -> M | None:
        return cast(M | None, await self.session.get(self.model, object_id))

    async def page(
        self, statement: Select[tuple[M]], *, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[M]:
        """One page of ``statement``'s rows (raises ``KeyError`` for an unknown sort key)."""
        paged, to_page = keyset_page(
            statement,
            id_column=self.model.id,
            sort_keys=self.sort_keys,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )
        rows = cast(Sequence[M], (await self.session.scalars(paged)).all())
        return to_page(rows)

    async def add(self, instance: M) -> M:
        self.session.add(instance)
        await self.flush()
        return instance

    async def flush(self) -> None:
        """Write pending changes now, turning unique violations into :class:`DuplicateKey`."""
        try:
            await self.session.flush()
        except IntegrityError as exc:
            await self.session.rollback()
            raise DuplicateKey(_constraint_name(exc)) from exc

    async def delete(self, instance: M) -> None:
        await self.session.delete(instance)
        await self.session.flush()


def _constraint_name(exc: IntegrityError) -> str | None:
    original: Any = exc.orig
    name = getattr(getattr(original, "__cause__", None), "constraint_name", None)
    if name:  # asyncpg names the constraint
        return str(name)
    text = str(original)  # SQLite says "UNIQUE constraint failed: zones.name"
    if "UNIQUE constraint failed:" in text:
        return text.split("UNIQUE constraint failed:", 1)[1].strip()
    return None
