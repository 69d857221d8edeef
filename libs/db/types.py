"""Column types that behave the same on SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["Money", "UTCDateTime", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored in UTC.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are normalised to UTC
    before storing and marked UTC again when read. Naive datetimes are refused: they are bugs.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use an aware datetime (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """An exact amount of money (or a rate) as :class:`~decimal.Decimal`, never a float.

    PostgreSQL stores ``NUMERIC(precision, scale)``. SQLite has no exact decimal type (its
    NUMERIC affinity turns values into floating point), so there the amount is stored as a
    64-bit integer count of ``10**-scale`` units: exact, and ``SUM()`` stays exact too. Values
    with more decimal places than ``scale`` are refused rather than silently rounded.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, scale: int = 6, precision: int = 24) -> None:
        super().__init__()
        self.scale = scale
        self.precision = precision
        self._unit = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        try:
            amount = value if isinstance(value, Decimal) else Decimal(str(value))
            exact = amount.quantize(self._unit)
        except InvalidOperation:
            raise ValueError(f"not an amount of money: {value!r}") from None
        if exact != amount:
            raise ValueError(f"{amount} has more than {self.scale} decimal places")
        if dialect.name == "sqlite":
            return int(exact.scaleb(self.scale))
        return exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale).quantize(self._unit)
        return Decimal(value).quantize(self._unit)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal
