from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.db.models import CustomerStatus
from libs.web.pagination import Page, PageParams
from services.switch_api.customers.schemas import Customer, CustomerCreate, CustomerUpdate
from services.switch_api.customers.service import CustomerService
from services.switch_api.deps import CustomersRead, CustomersWrite, LiveDep, UnitOfWorkDep
from services.switch_api.openapi import errors

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get("", operation_id="customers_list", responses=errors(400))
async def list_customers(
    _: CustomersRead,
    uow: UnitOfWorkDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`name` or `created_at`; `-` reverses.")] = "name",
    status: CustomerStatus | None = None,
    name_contains: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[Customer]:
    """List customers."""
    result = await CustomerService(uow).list(
        status=status,
        name_contains=name_contains,
        sort=sort,
        cursor=page.cursor,
        limit=page.limit,
    )
    return Page[Customer](
        items=[Customer.model_validate(c) for c in result.items], next_cursor=result.next_cursor
    )


@router.post(
    "",
    operation_id="customers_create",
    status_code=status.HTTP_201_CREATED,
    responses=errors(409),
)
async def create_customer(
    _: CustomersWrite, uow: UnitOfWorkDep, live: LiveDep, data: CustomerCreate, response: Response
) -> Customer:
    """Create a customer."""
    customer = await CustomerService(uow, live).create(data)
    response.headers["Location"] = f"/v1/customers/{customer.id}"
    return Customer.model_validate(customer)


@router.get("/{customer_id}", operation_id="customers_get", responses=errors(404))
async def get_customer(_: CustomersRead, uow: UnitOfWorkDep, customer_id: uuid.UUID) -> Customer:
    """Get a customer."""
    return Customer.model_validate(await CustomerService(uow).get(customer_id))


@router.patch("/{customer_id}", operation_id="customers_update", responses=errors(404, 409))
async def update_customer(
    _: CustomersWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    customer_id: uuid.UUID,
    data: CustomerUpdate,
) -> Customer:
    """Change a customer's settings and limits."""
    return Customer.model_validate(await CustomerService(uow, live).update(customer_id, data))


@router.delete(
    "/{customer_id}",
    operation_id="customers_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_customer(
    _: CustomersWrite, uow: UnitOfWorkDep, live: LiveDep, customer_id: uuid.UUID
) -> None:
    """Delete a customer, with its authentication entries, SIP users and routes."""
    await CustomerService(uow, live).delete(customer_id)
