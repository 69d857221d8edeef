from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.db.models import CarrierStatus
from libs.web.pagination import Page, PageParams
from services.switch_api.carriers.schemas import Carrier, CarrierCreate, CarrierUpdate
from services.switch_api.carriers.service import CarrierService
from services.switch_api.deps import CarriersRead, CarriersWrite, LiveDep, UnitOfWorkDep
from services.switch_api.ip_auth.schemas import IpAuthEntry
from services.switch_api.ip_auth.service import IpAuthService
from services.switch_api.openapi import errors

router = APIRouter(prefix="/v1/carriers", tags=["carriers"])


@router.get("", operation_id="carriers_list", responses=errors(400))
async def list_carriers(
    _: CarriersRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`name` or `created_at`; `-` reverses.")] = "name",
    status: CarrierStatus | None = None,
    name_contains: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[Carrier]:
    """List carriers."""
    result = await CarrierService(uow, live).list(
        status=status, name_contains=name_contains, sort=sort, cursor=page.cursor, limit=page.limit
    )
    return Page[Carrier](
        items=[Carrier.model_validate(c) for c in result.items], next_cursor=result.next_cursor
    )


@router.post(
    "", operation_id="carriers_create", status_code=status.HTTP_201_CREATED, responses=errors(409)
)
async def create_carrier(
    _: CarriersWrite, uow: UnitOfWorkDep, live: LiveDep, data: CarrierCreate, response: Response
) -> Carrier:
    """Create a carrier (add its gateways as egress IP authentication entries)."""
    carrier = await CarrierService(uow, live).create(data)
    response.headers["Location"] = f"/v1/carriers/{carrier.id}"
    return Carrier.model_validate(carrier)


@router.get("/{carrier_id}", operation_id="carriers_get", responses=errors(404))
async def get_carrier(
    _: CarriersRead, uow: UnitOfWorkDep, live: LiveDep, carrier_id: uuid.UUID
) -> Carrier:
    """Get a carrier."""
    return Carrier.model_validate(await CarrierService(uow, live).get(carrier_id))


@router.patch("/{carrier_id}", operation_id="carriers_update", responses=errors(404, 409))
async def update_carrier(
    _: CarriersWrite, uow: UnitOfWorkDep, live: LiveDep, carrier_id: uuid.UUID, data: CarrierUpdate
) -> Carrier:
    """Change a carrier's limits, timeouts, codes or buy card."""
    return Carrier.model_validate(await CarrierService(uow, live).update(carrier_id, data))


@router.delete(
    "/{carrier_id}",
    operation_id="carriers_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 409),
)
async def delete_carrier(
    _: CarriersWrite, uow: UnitOfWorkDep, live: LiveDep, carrier_id: uuid.UUID
) -> None:
    """Delete a carrier and its gateways (refused while routes list it)."""
    await CarrierService(uow, live).delete(carrier_id)


@router.get(
    "/{carrier_id}/gateways", operation_id="carriers_list_gateways", responses=errors(400, 404)
)
async def list_carrier_gateways(
    _: CarriersRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    carrier_id: uuid.UUID,
    page: PageParams,
) -> Page[IpAuthEntry]:
    """List a carrier's gateways (its egress IP authentication entries)."""
    await CarrierService(uow, live).get(carrier_id)
    result = await IpAuthService(uow, live, None).list(
        customer_id=None,
        carrier_id=carrier_id,
        direction="egress",
        address_prefix=None,
        sort="created_at",
        cursor=page.cursor,
        limit=page.limit,
    )
    return Page[IpAuthEntry](
        items=[IpAuthEntry.model_validate(e) for e in result.items],
        next_cursor=result.next_cursor,
    )
