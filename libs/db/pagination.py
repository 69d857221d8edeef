"""Keyset pagination: stable pages over large tables without OFFSET.

A page is asked for by a sort key (``name`` or ``-created_at``) and an opaque cursor. The cursor
holds the sort value and the id of the last row the client saw; the next page starts strictly
after that pair, so rows inserted or deleted meanwhile never shift a page, and the query is an
index range scan however deep the client goes.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

__all__ = ["InvalidCursor", "KeysetPage", "SortKey", "keyset_page"]

T = TypeVar("T")


class InvalidCursor(ValueError):
    """The cursor is not one this API issued for this sort order."""


@dataclass(frozen=True, slots=True)
class SortKey:
    """A column clients may sort by, and how to read its value back from a cursor."""

    column: InstrumentedAttribute[Any]
    parse: Callable[[str], Any] = str


@dataclass(frozen=True, slots=True)
class KeysetPage(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def _dump(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return str(value)


def _encode(sort: str, value: Any, row_id: uuid.UUID) -> str:
    raw = json.dumps([sort, _dump(value), str(row_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(cursor: str, sort: str, key: SortKey) -> tuple[Any, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, value, row_id = json.loads(base64.urlsafe_b64decode(padded))
        if cursor_sort != sort:
            raise InvalidCursor("the cursor belongs to another sort order")
        return key.parse(value), uuid.UUID(row_id)
    except InvalidCursor:
        raise
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidCursor(
            "the cursor is malformed; use next_cursor as the API returned it"
        ) from exc


def keyset_page(
    statement: Select[tuple[T]],
    *,
    id_column: InstrumentedAttribute[uuid.UUID],
    sort_keys: Mapping[str, SortKey],
    sort: str,
    cursor: str | None,
    limit: int,
) -> tuple[Select[tuple[T]], Callable[[Sequence[T]], KeysetPage[T]]]:
    """Add ordering, the cursor's predicate and a limit to ``statement``.

    Returns the statement to execute and a function that turns its rows into a page (it fetches
    ``limit + 1`` rows to know whether another page exists). Raises :class:`InvalidCursor` and
    :class:`KeyError` (unknown sort key) for the caller to turn into a 4xx.
    """
    descending = sort.startswith("-")
    key = sort_keys[sort.lstrip("-")]
    column = key.column
    if cursor is not None:
        value, last_id = _decode(cursor, sort, key)
        after = (
            or_(column < value, and_(column == value, id_column < last_id))
            if descending
            else or_(column > value, and_(column == value, id_column > last_id))
        )
        statement = statement.where(after)
    order = (column.desc(), id_column.desc()) if descending else (column.asc(), id_column.asc())
    statement = statement.order_by(*order).limit(limit + 1)
    attribute, id_attribute = column.key, id_column.key

    def to_page(rows: Sequence[T]) -> KeysetPage[T]:
        if len(rows) <= limit:
            return KeysetPage(list(rows), None)
        last = rows[limit - 1]
        return KeysetPage(
            list(rows[:limit]),
            _encode(sort, getattr(last, attribute), getattr(last, id_attribute)),
        )

    return statement, to_page
