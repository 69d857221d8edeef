"""Payments, adjustments, customers' ledgers and re-rating."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.db.models import LedgerKind
from libs.web.pagination import Page, PageParams
from services.switch_api.billing.schemas import (
    AdjustmentCreate,
    LedgerEntry,
    PaymentCreate,
    RerateReport,
    RerateRequest,
)
from services.switch_api.billing.service import BillingService
from services.switch_api.deps import BillingRead, BillingWrite, LiveDep, UnitOfWorkDep
from services.switch_api.openapi import errors

router = APIRouter(tags=["billing"])


@router.post(
    "/v1/customers/{customer_id}/payments",
    operation_id="billing_payment_create",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 404),
)
async def create_payment(
    principal: BillingWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    customer_id: uuid.UUID,
    data: PaymentCreate,
    response: Response,
) -> LedgerEntry:
    """Record a payment: the balance grows by the amount (nodes see it within a second)."""
    entry = await BillingService(uow, live).pay(customer_id, data, principal)
    response.headers["Location"] = f"/v1/customers/{customer_id}/ledger/{entry.id}"
    return LedgerEntry.model_validate(entry)


@router.post(
    "/v1/customers/{customer_id}/adjustments",
    operation_id="billing_adjustment_create",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 404),
)
async def create_adjustment(
    principal: BillingWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    customer_id: uuid.UUID,
    data: AdjustmentCreate,
) -> LedgerEntry:
    """Credit or debit the balance by hand (with a reference; the ledger names the author)."""
    return LedgerEntry.model_validate(
        await BillingService(uow, live).adjust(customer_id, data, principal)
    )


@router.get(
    "/v1/customers/{customer_id}/ledger",
    operation_id="billing_ledger_list",
    responses=errors(400, 404),
)
async def list_ledger(
    _: BillingRead,
    uow: UnitOfWorkDep,
    customer_id: uuid.UUID,
    page: PageParams,
    kind: LedgerKind | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    sort: Annotated[str, Query(description="`created_at`; `-` reverses (newest first).")] = (
        "-created_at"
    ),
) -> Page[LedgerEntry]:
    """List a customer's ledger: every charge, payment and adjustment with the balance after."""
    result = await BillingService(uow).list_ledger(
        customer_id,
        kind=kind,
        created_from=created_from,
        created_to=created_to,
        sort=sort,
        cursor=page.cursor,
        limit=page.limit,
    )
    return Page[LedgerEntry](
        items=[LedgerEntry.model_validate(e) for e in result.items],
        next_cursor=result.next_cursor,
    )


@router.post("/v1/billing/rerate", operation_id="billing_rerate", responses=errors(400, 404))
async def rerate_calls(
    principal: BillingWrite, uow: UnitOfWorkDep, live: LiveDep, data: RerateRequest
) -> RerateReport:
    """Re-rate a time range's answered calls on the rates in effect when each started.

    Idempotent: a second run changes nothing. Each changed call gets a `rerate` ledger entry.
    """
    report = await BillingService(uow, live).rerate(data, principal)
    return RerateReport(
        examined=report.examined,
        changed=report.changed,
        difference=report.difference,
        customers=len(report.customers),
    )
