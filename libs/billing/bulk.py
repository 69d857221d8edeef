"""Many rows in one PostgreSQL statement: ``INSERT … SELECT * FROM unnest($1::t1[], …)``.

SQLAlchemy's ``executemany`` of an ``INSERT … RETURNING`` renders batches of multi-row
``VALUES`` and runs every value through its bind processors; for a 1,000-CDR batch of 46 columns
that Python work cost more than PostgreSQL took to store the rows. Here each column travels as
one typed array (asyncpg encodes arrays in binary, in C), the statement text is fixed per
column list, so asyncpg prepares it once per connection, and the server inserts the batch in
one go. The statement runs on the session's connection, in its transaction.

The values are still checked the way the column types check them: :class:`~libs.db.types.Money`
refuses an amount with more decimal places than its scale (PostgreSQL would round it silently),
:class:`~libs.db.types.UTCDateTime` makes times UTC, JSON columns are serialised here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Table, TypeDecorator
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["BulkInsert", "is_postgresql"]

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _converter(table: Table, name: str) -> Callable[[Any], Any] | None:
    column_type = table.c[name].type
    if isinstance(column_type, JSON):
        return lambda value: None if value is None else json.dumps(value, separators=(",", ":"))
    if isinstance(column_type, TypeDecorator):
        process = column_type.process_bind_param
        return lambda value: process(value, _DIALECT)
    return None


class BulkInsert:
    """``INSERT INTO table (columns) SELECT * FROM unnest(arrays)`` with a fixed tail
    (``ON CONFLICT …``, ``RETURNING …``)."""

    def __init__(self, table: Table, columns: Sequence[str], tail: str = "") -> None:
        self.columns = tuple(columns)
        arrays = ", ".join(
            f"${i}::{table.c[name].type.compile(dialect=_DIALECT)}[]"
            for i, name in enumerate(self.columns, start=1)
        )
        names = ", ".join(f'"{name}"' for name in self.columns)
        # Identifiers and types come from the table's metadata, values only as parameters.
        self.sql = f'INSERT INTO "{table.name}" ({names}) SELECT * FROM unnest({arrays}) {tail}'  # noqa: S608
        self._converters = [_converter(table, name) for name in self.columns]

    def arrays(self, rows: Sequence[dict[str, Any]]) -> tuple[list[Any], ...]:
        """One list per column; a row lacking a column gives ``NULL`` there."""
        arrays: list[list[Any]] = []
        for name, convert in zip(self.columns, self._converters, strict=True):
            column = [row.get(name) for row in rows]
            if convert is not None:
                column = [convert(value) for value in column]
            arrays.append(column)
        return tuple(arrays)

    async def execute(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """Insert ``rows``; the ``RETURNING`` rows (``[]`` without one)."""
        if not rows:
            return []
        connection = await session.connection()
        result = await connection.exec_driver_sql(self.sql, self.arrays(rows))
        return list(result.all()) if result.returns_rows else []
