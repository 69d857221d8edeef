from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select

from libs.db import Repository, SortKey
from libs.db.models import RewriteRule, RewriteTarget


class RewriteRuleRepository(Repository[RewriteRule]):
    model = RewriteRule
    sort_keys = {
        "order": SortKey(RewriteRule.position, int),
        "created_at": SortKey(RewriteRule.created_at, datetime.fromisoformat),
    }

    def filtered(
        self,
        *,
        ip_auth_id: uuid.UUID | None = None,
        sip_user_id: uuid.UUID | None = None,
        target: RewriteTarget | None = None,
    ) -> Select[tuple[RewriteRule]]:
        statement = self.select()
        if ip_auth_id is not None:
            statement = statement.where(RewriteRule.ip_auth_id == ip_auth_id)
        if sip_user_id is not None:
            statement = statement.where(RewriteRule.sip_user_id == sip_user_id)
        if target is not None:
            statement = statement.where(RewriteRule.target == target)
        return statement

    async def of_owner(
        self, *, ip_auth_id: uuid.UUID | None, sip_user_id: uuid.UUID | None
    ) -> list[RewriteRule]:
        statement = self.filtered(ip_auth_id=ip_auth_id, sip_user_id=sip_user_id).order_by(
            RewriteRule.position, RewriteRule.created_at
        )
        return list((await self.session.scalars(statement)).all())  # type: ignore[arg-type]
