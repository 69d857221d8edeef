"""Dependencies every Tandem API shares (``Annotated`` aliases)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from libs.db import Database, UnitOfWork
from libs.identity import IdentityContext

__all__ = ["IdentityDep", "SourceAddress", "UnitOfWorkDep", "client_address"]


async def _unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    """One transaction per request, committed before the response is sent.

    ``scope="function"`` (below) ends the dependency when the endpoint returns, so a failing
    commit becomes the request's error response instead of a 2xx followed by a lost write.
    """
    database: Database = request.app.state.database
    async with database.session() as session:
        uow = UnitOfWork(session)
        yield uow
        await uow.commit()


UnitOfWorkDep = Annotated[UnitOfWork, Depends(_unit_of_work, scope="function")]


def client_address(request: Request) -> str:
    """The client's IP address: what allow lists, throttles and the audit log see.

    The TCP peer's address, or the one a trusted proxy put in ``X-Forwarded-For`` (resolved by
    ``build_app(trusted_proxies=…)`` before any handler runs). The one place that answers
    "where does this request come from".
    """
    return request.client.host if request.client else "unknown"


def _identity(request: Request) -> IdentityContext:
    identity: IdentityContext = request.app.state.identity
    return identity


SourceAddress = Annotated[str, Depends(client_address)]
IdentityDep = Annotated[IdentityContext, Depends(_identity)]
