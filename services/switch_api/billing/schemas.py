from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.db.models import LedgerKind
from libs.web.fields import Amount

PositiveAmount = Annotated[
    Decimal, Field(gt=0, max_digits=18, decimal_places=6, examples=["250.00"])
]
Reference = Annotated[
    str,
    Field(
        max_length=200, description="Invoice, bank or ticket reference.", examples=["INV-2026-0042"]
    ),
]
Note = Annotated[str, Field(max_length=2000)]


class PaymentCreate(BaseModel):
    """Money received from the customer: credited to the balance."""

    model_config = ConfigDict(extra="forbid")

    amount: PositiveAmount
    reference: Reference = ""
    note: Note = ""


class AdjustmentCreate(BaseModel):
    """A manual credit (adds to the balance) or debit (takes from it)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["credit", "debit"]
    amount: PositiveAmount
    reference: Reference = ""
    note: Note = ""


class LedgerEntry(BaseModel):
    """One change of the balance."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    kind: LedgerKind
    amount: Amount = Field(description="Signed: charges and debits are negative.")
    balance_after: Amount
    currency: str
    reference: str
    author: str
    note: str
    call_id: str | None
    created_at: datetime


class RerateRequest(BaseModel):
    """Which calls to re-rate (on the rates in effect when each call started)."""

    model_config = ConfigDict(extra="forbid")

    started_from: AwareDatetime
    started_to: AwareDatetime
    customer_id: uuid.UUID | None = None


class RerateReport(BaseModel):
    examined: int = Field(description="Answered calls looked at.")
    changed: int = Field(description="Calls whose charge changed (a ledger entry each).")
    difference: Amount = Field(description="Sum of the changes: positive, customers pay more.")
    customers: int = Field(description="Customers whose balance moved.")
