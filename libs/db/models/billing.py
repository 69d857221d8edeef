"""Billing: rated call detail records, the ledger of every balance change, spend per day.

These are history, not configuration: a CDR or a ledger entry outlives the customer, carrier,
route or card it names, so their ids are kept without foreign keys (a deleted customer's calls
still add up in a margin report). Rows are written by the billing worker with core statements
(``INSERT … ON CONFLICT``, ``UPDATE … RETURNING``) and are not audited: the ledger *is* the
audit trail of money, each entry naming its author.

Amounts: ``charge``, ``cost``, ledger amounts and balances have 6 decimal places (the
balance's scale); rates keep the rate cards' 8.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from libs.db.base import Base, UUIDPrimaryKeyMixin
from libs.db.types import Money, UTCDateTime, utcnow

__all__ = ["BALANCE_SCALE", "Cdr", "DailySpend", "LedgerEntry", "LedgerKind"]

#: Decimal places of balances, charges, costs and ledger amounts.
BALANCE_SCALE = 6
#: Decimal places of rates (``libs.db.models.configuration.RATE_SCALE``).
_RATE_SCALE = 8


class LedgerKind(StrEnum):
    """Why a balance changed."""

    #: A rated call (negative: the charge).
    CALL_CHARGE = "call_charge"
    #: Money received from the customer (positive).
    PAYMENT = "payment"
    #: A goodwill or correction credit (positive).
    CREDIT = "credit"
    #: A manual charge (negative).
    DEBIT = "debit"
    #: The difference a re-rate made to one call's charge (either sign).
    RERATE = "rerate"


class Cdr(UUIDPrimaryKeyMixin, Base):
    """One call, as sip_core reported it and billing rated it."""

    __tablename__ = "cdrs"
    __audited__ = False
    __table_args__ = (
        # Keyset pages of "every call in a time range" (the operator's default listing).
        Index("ix_cdrs_started_at_id", "started_at", "id"),
        # "A customer's calls of a day": an index range scan however many CDRs there are.
        Index("ix_cdrs_customer_id_started_at_id", "customer_id", "started_at", "id"),
        Index("ix_cdrs_carrier_id_started_at_id", "carrier_id", "started_at", "id"),
    )

    #: sip_core's unique id of the call (the CDR stream's ``Nats-Msg-Id``): a CDR is stored once.
    call_id: Mapped[str] = mapped_column(String(128), unique=True)
    sip_call_id: Mapped[str] = mapped_column(String(255), default="")
    node_id: Mapped[str] = mapped_column(String(128), default="")
    zone: Mapped[str] = mapped_column(String(64), default="")
    source_address: Mapped[str] = mapped_column(String(64), default="")

    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    auth_method: Mapped[str | None] = mapped_column(String(16), default=None)
    ipauth_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    sip_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)

    caller_received: Mapped[str] = mapped_column(String(128), default="")
    callee_received: Mapped[str] = mapped_column(String(128), default="")
    caller_sent: Mapped[str] = mapped_column(String(128), default="")
    callee_sent: Mapped[str] = mapped_column(String(128), default="")

    route_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    sell_card_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    sell_prefix: Mapped[str | None] = mapped_column(String(32), default=None)
    destination: Mapped[str | None] = mapped_column(String(200), default=None)
    sell_rate: Mapped[Decimal | None] = mapped_column(Money(scale=_RATE_SCALE), default=None)
    connection_fee: Mapped[Decimal | None] = mapped_column(Money(scale=_RATE_SCALE), default=None)
    initial_increment: Mapped[int | None] = mapped_column(Integer, default=None)
    subsequent_increment: Mapped[int | None] = mapped_column(Integer, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)

    #: The carrier of the answered attempt (of the last attempt for an unanswered call).
    carrier_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    gateway: Mapped[str | None] = mapped_column(String(255), default=None)
    buy_card_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    buy_prefix: Mapped[str | None] = mapped_column(String(32), default=None)
    buy_rate: Mapped[Decimal | None] = mapped_column(Money(scale=_RATE_SCALE), default=None)
    cost_currency: Mapped[str | None] = mapped_column(String(3), default=None)
    #: Post-dial delay of that attempt, in milliseconds.
    pdd_ms: Mapped[int | None] = mapped_column(Integer, default=None)

    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Talk time (answer to end), 0 for an unanswered call.
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    #: Seconds the customer is billed for (after the sell rate's increments).
    billed_seconds: Mapped[int] = mapped_column(Integer, default=0)
    #: Seconds the carrier bills (after the buy rate's increments).
    cost_seconds: Mapped[int] = mapped_column(Integer, default=0)

    sip_code: Mapped[int] = mapped_column(Integer)
    sip_reason: Mapped[str] = mapped_column(String(255), default="")
    release_reason: Mapped[str] = mapped_column(String(32))
    released_by: Mapped[str] = mapped_column(String(16))

    #: What the customer pays (debited from the balance), in ``currency``.
    charge: Mapped[Decimal] = mapped_column(Money(scale=BALANCE_SCALE), default=Decimal(0))
    #: What the carrier charges, in ``cost_currency``.
    cost: Mapped[Decimal] = mapped_column(Money(scale=BALANCE_SCALE), default=Decimal(0))

    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: ``{"caller": {...}, "callee": {...}}``: the relay's RTP statistics per direction.
    media: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rerated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class LedgerEntry(UUIDPrimaryKeyMixin, Base):
    """One change of a customer's balance: the ledger explains every balance."""

    __tablename__ = "ledger_entries"
    __audited__ = False
    __table_args__ = (
        Index("ix_ledger_entries_customer_id_created_at_id", "customer_id", "created_at", "id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[LedgerKind] = mapped_column(
        Enum(
            LedgerKind,
            native_enum=False,
            length=16,
            validate_strings=True,
            values_callable=lambda kinds: [kind.value for kind in kinds],
        )
    )
    #: Signed effect on the balance: a charge or a debit is negative, a payment positive.
    amount: Mapped[Decimal] = mapped_column(Money(scale=BALANCE_SCALE))
    #: The balance right after this entry.
    balance_after: Mapped[Decimal] = mapped_column(Money(scale=BALANCE_SCALE))
    currency: Mapped[str] = mapped_column(String(3))
    #: An invoice or payment reference, or the call id of a call charge.
    reference: Mapped[str] = mapped_column(String(200), default="")
    #: Who made the change: ``billing`` for rated calls, the operator for payments.
    author: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    call_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DailySpend(Base):
    """What a customer's calls cost on one UTC day (the daily spend limit reads it)."""

    __tablename__ = "daily_spend"
    __audited__ = False

    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money(scale=BALANCE_SCALE), default=Decimal(0))
