from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from libs.db.models import LedgerKind
from libs.web.fields import Amount


class LedgerEntry(BaseModel):
    """One change of your balance."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "7d6c5b4a-3f2e-4d1c-9b0a-8f7e6d5c4b3a",
                    "kind": "payment",
                    "amount": "100.000000",
                    "balance_after": "120.500000",
                    "currency": "EUR",
                    "reference": "INV-2026-0042",
                    "note": "",
                    "call_id": None,
                    "created_at": "2026-11-25T09:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    kind: LedgerKind = Field(description="`payment`, `call_charge`, `credit`, `debit` or `rerate`.")
    amount: Amount = Field(description="The effect on your balance (negative: a charge).")
    balance_after: Amount = Field(description="Your balance right after this change.")
    currency: str
    reference: str = Field(description="The payment or invoice reference, or the call id.")
    note: str
    call_id: str | None = Field(description="The call a charge is for.")
    created_at: datetime
