"""The declarative base: naming conventions, UUID keys and audit timestamps for every table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from libs.db.types import UTCDateTime, utcnow

__all__ = ["SECRET", "UNAUDITED", "Base", "TimestampedMixin", "UUIDPrimaryKeyMixin"]

#: Column ``info`` of a secret (a hash, a ciphertext): the audit log says it changed, never what
#: it holds.
SECRET = {"secret": True}
#: Column ``info`` of bookkeeping the audit log ignores (last use, counters, timestamps).
UNAUDITED = {"audited": False}

# Deterministic constraint names, so migrations can name what they alter or drop on both back
# ends (SQLite's batch mode recreates tables and needs the names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The declarative base. A model sets ``__audited__ = False`` to keep its writes out of the
    audit log (the log itself, single-use codes)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UUIDPrimaryKeyMixin:
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


class TimestampedMixin:
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False, info=UNAUDITED
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False, info=UNAUDITED
    )
