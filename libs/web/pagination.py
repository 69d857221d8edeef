"""The page envelope and query parameters of every list endpoint."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

__all__ = ["Page", "PageQuery"]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list, and the cursor of the next one (``null`` on the last page)."""

    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null when this is the last."
    )


class PageQuery(BaseModel):
    """Keyset pagination parameters."""

    limit: int = Field(50, ge=1, le=1000, description="Items per page (1-1000).")
    cursor: str | None = Field(None, description="`next_cursor` of the previous page.")


#: Inject as ``page: PageParams``.
PageParams = Annotated[PageQuery, Query()]
