"""Dependencies shared by customer_api's endpoints (``Annotated`` aliases).

Every domain route asks for a :class:`Tenant`: the caller's principal (with the right the
route needs, declared with :func:`libs.web.auth.require`) and the customer account it is
confined to. Services take ``tenant.customer_id`` and scope every query to it, so no route
can reach another customer's rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from libs.db import Database
from libs.errors import PermissionDenied
from libs.identity import Principal
from libs.identity.permissions import Access, Area
from libs.liveconfig import ConfigPublisher
from libs.web.auth import require
from libs.web.deps import IdentityDep, SourceAddress, UnitOfWorkDep

__all__ = [
    "AccountRead",
    "AccountWrite",
    "BillingRead",
    "CallsRead",
    "CallsWrite",
    "DatabaseDep",
    "IdentityDep",
    "PublisherDep",
    "RatesRead",
    "SecurityWrite",
    "SourceAddress",
    "Tenant",
    "UnitOfWorkDep",
]


@dataclass(frozen=True, slots=True)
class Tenant:
    """Who is asking, and the one customer account they may see."""

    principal: Principal
    customer_id: uuid.UUID


def _tenant(area: Area, access: Access) -> Any:
    requirement = require(area, access)

    async def tenant(principal: Principal) -> Tenant:
        if principal.tenant is None:  # pragma: no cover - customer_api issues only customers'
            raise PermissionDenied("This API is for customer accounts' users and keys.")
        return Tenant(principal, principal.tenant)

    # Evaluated annotations (this module's are strings): FastAPI reads the requirement here.
    tenant.__annotations__ = {"principal": Annotated[Principal, requirement], "return": Tenant}
    return Depends(tenant)


#: The account itself, its SIP users and IP authentication entries (reading).
AccountRead = Annotated[Tenant, _tenant(Area.CUSTOMERS, Access.READ)]
#: SIP users: create, change, delete, reset passwords.
AccountWrite = Annotated[Tenant, _tenant(Area.CUSTOMERS, Access.WRITE)]
#: IP authentication entries (where the operator allows it): who may send calls as the account.
SecurityWrite = Annotated[Tenant, _tenant(Area.SECURITY, Access.WRITE)]
RatesRead = Annotated[Tenant, _tenant(Area.RATES, Access.READ)]
#: CDRs, summaries and the ledger.
BillingRead = Annotated[Tenant, _tenant(Area.BILLING, Access.READ)]
#: Live calls.
CallsRead = Annotated[Tenant, _tenant(Area.CALLS, Access.READ)]
CallsWrite = Annotated[Tenant, _tenant(Area.CALLS, Access.WRITE)]


def _publisher(request: Request) -> ConfigPublisher:
    publisher: ConfigPublisher = request.app.state.publisher
    return publisher


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


#: Live configuration publishing (writes are published after their commit).
PublisherDep = Annotated[ConfigPublisher, Depends(_publisher)]
#: The database, for streamed responses that outlive the request's unit of work.
DatabaseDep = Annotated[Database, Depends(_database)]
