from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.db.models import Direction
from libs.web.pagination import Page, PageParams
from services.customer_api.deps import (
    AccountRead,
    IdentityDep,
    PublisherDep,
    SecurityWrite,
    UnitOfWorkDep,
)
from services.customer_api.ip_auth.schemas import IpAuthEntry, IpAuthEntryCreate, IpAuthEntryUpdate
from services.customer_api.ip_auth.service import IpAuthService
from services.customer_api.openapi import errors

router = APIRouter(prefix="/v1/ip-auth", tags=["ip-auth"])


@router.get("", operation_id="ip_auth_list", responses=errors(400))
async def list_ip_auth_entries(
    tenant: AccountRead,
    uow: UnitOfWorkDep,
    publisher: PublisherDep,
    identity: IdentityDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`address` or `created_at`; `-` reverses.")] = (
        "created_at"
    ),
    direction: Direction | None = None,
    address_prefix: Annotated[str | None, Query(max_length=255)] = None,
) -> Page[IpAuthEntry]:
    """List your IP authentication entries."""
    service = IpAuthService(uow, publisher, identity.encryption, tenant.customer_id)
    result = await service.list(
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
    "",
    operation_id="ip_auth_create",
    status_code=status.HTTP_201_CREATED,
    responses=errors(409),
)
async def create_ip_auth_entry(
    tenant: SecurityWrite,
    uow: UnitOfWorkDep,
    publisher: PublisherDep,
    identity: IdentityDep,
    data: IpAuthEntryCreate,
    response: Response,
) -> IpAuthEntry:
    """Add an IP authentication entry (403 unless your operator allows you to; 409 if the
    address is shared ambiguously with another account)."""
    service = IpAuthService(uow, publisher, identity.encryption, tenant.customer_id)
    entry = await service.create(data)
    response.headers["Location"] = f"/v1/ip-auth/{entry.id}"
    return IpAuthEntry.model_validate(entry)


@router.get("/{entry_id}", operation_id="ip_auth_get", responses=errors(404))
async def get_ip_auth_entry(
    tenant: AccountRead,
    uow: UnitOfWorkDep,
    publisher: PublisherDep,
    identity: IdentityDep,
    entry_id: uuid.UUID,
) -> IpAuthEntry:
    """Get one of your IP authentication entries."""
    service = IpAuthService(uow, publisher, identity.encryption, tenant.customer_id)
    return IpAuthEntry.model_validate(await service.get(entry_id))


@router.patch("/{entry_id}", operation_id="ip_auth_update", responses=errors(404, 409))
async def update_ip_auth_entry(
    tenant: SecurityWrite,
    uow: UnitOfWorkDep,
    publisher: PublisherDep,
    identity: IdentityDep,
    entry_id: uuid.UUID,
    data: IpAuthEntryUpdate,
) -> IpAuthEntry:
    """Change an IP authentication entry (403 unless your operator allows you to)."""
    service = IpAuthService(uow, publisher, identity.encryption, tenant.customer_id)
    return IpAuthEntry.model_validate(await service.update(entry_id, data))


@router.delete(
    "/{entry_id}",
    operation_id="ip_auth_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_ip_auth_entry(
    tenant: SecurityWrite,
    uow: UnitOfWorkDep,
    publisher: PublisherDep,
    identity: IdentityDep,
    entry_id: uuid.UUID,
) -> None:
    """Delete an IP authentication entry (403 unless your operator allows you to)."""
    service = IpAuthService(uow, publisher, identity.encryption, tenant.customer_id)
    await service.delete(entry_id)
