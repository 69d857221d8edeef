"""Customers: the operator's accounts that send calls to the switch."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, Boolean, CheckConstraint, Enum, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from libs.db.base import UNAUDITED, Base, TimestampedMixin, UUIDPrimaryKeyMixin
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
    #: Spend allowed per UTC day before calls are refused; 0 means no limit.
    daily_spend_limit: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    #: Longest call allowed, in seconds; 0 means no limit at this level.
    max_call_duration: Mapped[int] = mapped_column(Integer, default=0)
    #: CIDR networks the account's traffic may come from; empty means anywhere.
    source_ranges: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Flood limit (requests per window) for sources in the account's ranges; ``None``: the
    #: global setting.
    flood_max_requests: Mapped[int | None] = mapped_column(Integer, default=None)
    notes: Mapped[str] = mapped_column(Text, default="")
    #: The customer's users may add, change and remove their own IP authentication entries
    #: (customer_api); otherwise they only see them.
    ip_auth_self_service: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Bumped on every update: optimistic concurrency (ETag / If-Match) and config versions.
    version: Mapped[int] = mapped_column(Integer, default=1, info=UNAUDITED)
    #: Bumped with every balance change (billing, payments): the ``balance`` config object's
    #: version, kept apart from ``version`` so money moving never breaks an operator's If-Match.
    balance_version: Mapped[int] = mapped_column(Integer, default=1, info=UNAUDITED)

    __mapper_args__ = {"version_id_col": version}
