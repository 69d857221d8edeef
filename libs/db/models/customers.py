"""Customers: the operator's accounts that send calls to the switch."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Enum, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from libs.db.base import Base, TimestampedMixin, UUIDPrimaryKeyMixin
from libs.db.types import Money


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    #: Calls refused; data and portal access kept (e.g. unpaid invoices).
    SUSPENDED = "suspended"
    #: The account is closed; kept for its CDRs and ledger.
    CLOSED = "closed"


class Customer(UUIDPrimaryKeyMixin, TimestampedMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint("debit_limit >= 0", name="debit_limit_not_negative"),
        CheckConstraint("channel_limit >= 0", name="channel_limit_not_negative"),
        CheckConstraint("cps_limit >= 0", name="cps_limit_not_negative"),
        Index("ix_customers_created_at_id", "created_at", "id"),
    )

    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[CustomerStatus] = mapped_column(
        Enum(
            CustomerStatus,
            native_enum=False,
            length=16,
            validate_strings=True,
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
        default=CustomerStatus.ACTIVE,
    )
    #: ISO 4217 code of the account's currency.
    currency: Mapped[str] = mapped_column(String(3))
    #: Prepaid funds; changed only through the ledger (billing), read-only in the API.
    balance: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    #: How far below zero the balance may go before calls are refused (postpaid credit).
    debit_limit: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    #: Concurrent calls allowed; 0 means no limit at this level.
    channel_limit: Mapped[int] = mapped_column(Integer, default=0)
    #: New calls per second allowed ("flow speed"); 0 means no limit at this level.
    cps_limit: Mapped[int] = mapped_column(Integer, default=0)
    #: Bumped on every update: optimistic concurrency (ETag / If-Match) and config versions.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
