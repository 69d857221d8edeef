"""Dependencies shared by switch_api's endpoints (``Annotated`` aliases).

The unit of work, the identity context and the client address are the same for every API and
live in :mod:`libs.web.deps`; the rights each route needs are declared with
:func:`libs.web.auth.require`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from libs.identity import Principal
from libs.identity.permissions import Access, Area
from libs.web.auth import require
from libs.web.deps import IdentityDep, SourceAddress, UnitOfWorkDep
from services.switch_api.live import LiveConfig

__all__ = [
    "BillingRead",
    "BillingWrite",
    "CallsRead",
    "CallsWrite",
    "CarriersRead",
    "CarriersWrite",
    "CustomersRead",
    "CustomersWrite",
    "IdentityDep",
    "LiveDep",
    "RatesRead",
    "RatesWrite",
    "RoutingRead",
    "RoutingWrite",
    "SecurityRead",
    "SecurityWrite",
    "SourceAddress",
    "UnitOfWorkDep",
    "UsersRead",
    "UsersWrite",
]

BillingRead = Annotated[Principal, require(Area.BILLING, Access.READ)]
BillingWrite = Annotated[Principal, require(Area.BILLING, Access.WRITE)]
CallsRead = Annotated[Principal, require(Area.CALLS, Access.READ)]
CallsWrite = Annotated[Principal, require(Area.CALLS, Access.WRITE)]
CarriersRead = Annotated[Principal, require(Area.CARRIERS, Access.READ)]
CarriersWrite = Annotated[Principal, require(Area.CARRIERS, Access.WRITE)]
CustomersRead = Annotated[Principal, require(Area.CUSTOMERS, Access.READ)]
CustomersWrite = Annotated[Principal, require(Area.CUSTOMERS, Access.WRITE)]
RatesRead = Annotated[Principal, require(Area.RATES, Access.READ)]
RatesWrite = Annotated[Principal, require(Area.RATES, Access.WRITE)]
RoutingRead = Annotated[Principal, require(Area.ROUTING, Access.READ)]
RoutingWrite = Annotated[Principal, require(Area.ROUTING, Access.WRITE)]
SecurityRead = Annotated[Principal, require(Area.SECURITY, Access.READ)]
SecurityWrite = Annotated[Principal, require(Area.SECURITY, Access.WRITE)]
UsersRead = Annotated[Principal, require(Area.USERS, Access.READ)]
UsersWrite = Annotated[Principal, require(Area.USERS, Access.WRITE)]


def _live(request: Request) -> LiveConfig:
    live: LiveConfig = request.app.state.live
    return live


#: Live configuration publishing (``services.switch_api.live``).
LiveDep = Annotated[LiveConfig, Depends(_live)]
