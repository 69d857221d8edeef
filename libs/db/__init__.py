"""Database access shared by the API services: engine, sessions, base, types, migrations.

SQLite (via aiosqlite) is the embedded default and PostgreSQL (via asyncpg) is production; the
same models and the same Alembic history run on both. Money is :class:`decimal.Decimal` end to
end (:class:`Money`), timestamps are timezone-aware UTC (:class:`UTCDateTime`), keys are UUIDs.
"""

from libs.db.base import Base, TimestampedMixin, UUIDPrimaryKeyMixin
from libs.db.engine import Database, create_engine
from libs.db.pagination import InvalidCursor, KeysetPage, SortKey
from libs.db.repository import DuplicateKey, Repository
from libs.db.types import Money, UTCDateTime, utcnow
from libs.db.unit_of_work import AfterCommit, UnitOfWork

__all__ = [
    "AfterCommit",
    "Base",
    "Database",
    "DuplicateKey",
    "InvalidCursor",
    "KeysetPage",
    "Money",
    "Repository",
    "SortKey",
    "TimestampedMixin",
    "UTCDateTime",
    "UUIDPrimaryKeyMixin",
    "UnitOfWork",
    "create_engine",
    "utcnow",
]
