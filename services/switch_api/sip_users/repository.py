from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select

from libs.db import Repository, SortKey
from libs.db.models import SipUser


class SipUserRepository(Repository[SipUser]):
    model = SipUser
    sort_keys = {
        "username": SortKey(SipUser.username),
        "created_at": SortKey(SipUser.created_at, datetime.fromisoformat),
    }

    def filtered(
        self, *, customer_id: uuid.UUID | None = None, username_prefix: str | None = None
    ) -> Select[tuple[SipUser]]:
        statement = self.select()
        if customer_id is not None:
            statement = statement.where(SipUser.customer_id == customer_id)
        if username_prefix:
            statement = statement.where(
                SipUser.username.startswith(username_prefix, autoescape=True)
            )
        return statement

    async def username_taken(
        self, customer_id: uuid.UUID, username: str, *, excluding: uuid.UUID | None = None
    ) -> bool:
        statement = select(SipUser.id).where(
            SipUser.customer_id == customer_id, SipUser.username == username
        )
        if excluding is not None:
            statement = statement.where(SipUser.id != excluding)
        return (await self.session.scalar(statement.limit(1))) is not None
