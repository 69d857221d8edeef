from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.db.models import Direction
from libs.web.pagination import Page, PageParams
from services.switch_api.deps import (
    CustomersRead,
    CustomersWrite,
    IdentityDep,
    LiveDep,
    UnitOfWorkDep,
)
from services.switch_api.ip_auth.schemas import IpAuthEntry, IpAuthEntryCreate, IpAuthEntryUpdate
from services.switch_api.ip_auth.service import IpAuthService
from services.switch_api.openapi import errors

router = APIRouter(prefix="/v1/ip-auth", tags=["ip-auth"])


@router.get("", operation_id="ip_auth_list", responses=errors(400))
async def list_ip_auth_entries(
    _: CustomersRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    identity: IdentityDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`address` or `created_at`; `-` reverses.")] = (
        "created_at"
    ),
    customer_id: uuid.UUID | None = None,
    carrier_id: uuid.UUID | None = None,
    direction: Direction | None = None,
    address_prefix: Annotated[str | None, Query(max_length=255)] = None,
) -> Page[IpAuthEntry]:
    """List IP authentication entries of customers and carriers."""
    result = await IpAuthService(uow, live, identity.encryption).list(
        customer_id=customer_id,
        carrier_id=carrier_id,
        direction=direction,
        address_prefix=address_prefix,
        sort=sort,
        cursor=page.cursor,
        limit=page.limit,
    )
    return Page[IpAuthEntry](
        items=[IpAuthEntry.model_validate(e) for e in result.items],
        next_cursor=result.next_cursor,
    )


@router.post(
    "", operation_id="ip_auth_create", status_code=status.HTTP_201_CREATED, responses=errors(409)
)
async def create_ip_auth_entry(
    _: CustomersWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    identity: IdentityDep,
    data: IpAuthEntryCreate,
    response: Response,
) -> IpAuthEntry:
    """Add an IP authentication entry (409 if it makes a shared address ambiguous)."""
    entry = await IpAuthService(uow, live, identity.encryption).create(data)
    response.headers["Location"] = f"/v1/ip-auth/{entry.id}"
    return IpAuthEntry.model_validate(entry)


@router.get("/{entry_id}", operation_id="ip_auth_get", responses=errors(404))
async def get_ip_auth_entry(
    _: CustomersRead, uow: UnitOfWorkDep, live: LiveDep, identity: IdentityDep, entry_id: uuid.UUID
) -> IpAuthEntry:
    """Get an IP authentication entry (its password is never shown)."""
    return IpAuthEntry.model_validate(
        await IpAuthService(uow, live, identity.encryption).get(entry_id)
    )


@router.patch("/{entry_id}", operation_id="ip_auth_update", responses=errors(404, 409))
async def update_ip_auth_entry(
    _: CustomersWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    identity: IdentityDep,
    entry_id: uuid.UUID,
    data: IpAuthEntryUpdate,
) -> IpAuthEntry:
    """Change an IP authentication entry."""
    entry = await IpAuthService(uow, live, identity.encryption).update(entry_id, data)
    return IpAuthEntry.model_validate(entry)


@router.delete(
    "/{entry_id}",
    operation_id="ip_auth_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_ip_auth_entry(
    _: CustomersWrite, uow: UnitOfWorkDep, live: LiveDep, identity: IdentityDep, entry_id: uuid.UUID
) -> None:
    """Delete an IP authentication entry and its rewrite rules."""
    await IpAuthService(uow, live, identity.encryption).delete(entry_id)
