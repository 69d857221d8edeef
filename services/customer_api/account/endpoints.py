from __future__ import annotations

from fastapi import APIRouter, Request

from services.customer_api.account.schemas import Account
from services.customer_api.account.service import AccountService
from services.customer_api.deps import AccountRead, UnitOfWorkDep
from services.customer_api.live_calls.service import live_channels
from services.customer_api.openapi import errors

router = APIRouter(prefix="/v1/account", tags=["account"])


@router.get("", operation_id="account_get", responses=errors(404))
async def get_account(tenant: AccountRead, uow: UnitOfWorkDep, request: Request) -> Account:
    """Your balance, credit, currency, limits and channels in use."""
    live = await live_channels(getattr(request.app.state, "bus", None), tenant.customer_id)
    return await AccountService(uow).get(tenant.customer_id, live_channels=live)
