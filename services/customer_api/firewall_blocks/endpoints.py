from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.customer_api.deps import AccountRead, UnitOfWorkDep
from services.customer_api.firewall_blocks.schemas import FirewallBlockList
from services.customer_api.firewall_blocks.service import firewall_blocks
from services.customer_api.openapi import errors

router = APIRouter(prefix="/v1/firewall-blocks", tags=["firewall-blocks"])


@router.get("", operation_id="firewall_blocks_list", responses=errors())
async def list_firewall_blocks(
    tenant: AccountRead,
    uow: UnitOfWorkDep,
    include_expired: Annotated[
        bool, Query(description="Also the blocks that have lifted (history).")
    ] = False,
) -> FirewallBlockList:
    """List the firewall blocks on your IP authentication addresses and source ranges, newest
    first: calls from a blocked address are refused until the block lifts."""
    return await firewall_blocks(uow, tenant.customer_id, include_expired=include_expired)
