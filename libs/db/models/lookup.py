"""Lookups: the datasets lookup_api answers from (LRN, CNAM, do-not-call lists), which API keys
may use lookup_api with what limits, and their daily usage.

A dataset's rows are stored compiled: the blob lookup_api loads (:mod:`libs.lookup.datasets`)
in chunks of :data:`CHUNK_SIZE` bytes, so the database stays the source of truth (the
reconciler can publish it again) without a row per number: ten million numbers are ~180 MB,
not ten million rows.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from libs.db.base import UNAUDITED, Base, TimestampedMixin, UUIDPrimaryKeyMixin
from libs.db.types import UTCDateTime

__all__ = [
    "CHUNK_SIZE",
    "DatasetKind",
    "LookupAccess",
    "LookupDataset",
    "LookupDatasetChunk",
    "LookupUsage",
]

#: Bytes per stored chunk of a compiled dataset.
CHUNK_SIZE = 4 << 20


class DatasetKind(StrEnum):
    LRN = "lrn"
    CNAM = "cnam"
    DNC = "dnc"


class LookupDataset(UUIDPrimaryKeyMixin, TimestampedMixin, Base):
    """An operator-managed dataset; its current rows are the compiled blob in its chunks."""

    __tablename__ = "lookup_datasets"
    __table_args__ = (CheckConstraint("row_count >= 0", name="row_count_not_negative"),)

    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[DatasetKind] = mapped_column(
        Enum(
            DatasetKind,
            native_enum=False,
            length=16,
            validate_strings=True,
            values_callable=lambda kinds: [kind.value for kind in kinds],
        )
    )
    description: Mapped[str] = mapped_column(Text, default="")
    #: Several LRN or CNAM datasets: the lowest priority that holds a number answers.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    row_count: Mapped[int] = mapped_column(Integer, default=0, info=UNAUDITED)
    blob_size: Mapped[int] = mapped_column(BigInteger, default=0, info=UNAUDITED)
    blob_sha256: Mapped[str] = mapped_column(String(64), default="", info=UNAUDITED)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: Bumped on every change: the blob pointer's version.
    version: Mapped[int] = mapped_column(Integer, default=1, info=UNAUDITED)

    __mapper_args__ = {"version_id_col": version}


class LookupDatasetChunk(Base):
    """One piece of a dataset's compiled blob, in ``seq`` order."""

    __tablename__ = "lookup_dataset_chunks"
    __audited__ = False

    dataset_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("lookup_datasets.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LookupAccess(TimestampedMixin, Base):
    """An API key's right to use lookup_api: its rate limit and daily quota (0: none)."""

    __tablename__ = "lookup_access"
    __table_args__ = (
        CheckConstraint("requests_per_second >= 0", name="rps_not_negative"),
        CheckConstraint("daily_quota >= 0", name="daily_quota_not_negative"),
    )

    api_key_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    requests_per_second: Mapped[int] = mapped_column(Integer, default=0)
    #: Requests a key may make per UTC day; a batch counts one per number.
    daily_quota: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1, info=UNAUDITED)

    __mapper_args__ = {"version_id_col": version}


class LookupUsage(Base):
    """What a key used on one UTC day, summed over every lookup_api node's reports."""

    __tablename__ = "lookup_usage"
    __audited__ = False

    api_key_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    #: Lookups answered (a batch counts one per number).
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Requests refused for the rate limit or the quota.
    refused: Mapped[int] = mapped_column(BigInteger, default=0)
