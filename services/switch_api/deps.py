"""Dependencies shared by switch_api's endpoints (``Annotated`` aliases)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from libs.db import Database, UnitOfWork


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
