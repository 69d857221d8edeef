"""Keyset listing with the client's mistakes (sort key, cursor) turned into 400s."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select

from libs.db import InvalidCursor, KeysetPage, Repository
from libs.errors import BadRequest

__all__ = ["list_page"]

M = TypeVar("M", bound=Any)


async def list_page(
    repository: Repository[M],
    statement: Select[tuple[M]],
    *,
    sort: str,
    cursor: str | None,
    limit: int,
) -> KeysetPage[M]:
    """A page of ``statement``; an unknown sort key or a bad cursor is a 400."""
    if sort.lstrip("-") not in repository.sort_keys:
        allowed = ", ".join(sorted(repository.sort_keys))
        raise BadRequest(
            f"cannot sort by {sort!r}; sort by one of: {allowed} (prefix - to reverse)"
        )
    try:
        return await repository.page(statement, sort=sort, cursor=cursor, limit=limit)
    except InvalidCursor as exc:
        raise BadRequest(str(exc)) from None
