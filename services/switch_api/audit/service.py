from __future__ import annotations

import uuid
from datetime import datetime

from libs.db import KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import AuditEvent
from libs.errors import BadRequest
from services.switch_api.audit.repository import AuditEventRepository


class AuditService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.events = AuditEventRepository(uow.session)

    async def search(
        self,
        *,
        actor_id: str | None,
        actor_kind: str | None,
        api_key_id: uuid.UUID | None,
        tenant_id: uuid.UUID | None,
        object_type: str | None,
        object_id: str | None,
        action: str | None,
        outcome: str | None,
        since: datetime | None,
        until: datetime | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[AuditEvent]:
        for name, moment in (("since", since), ("until", until)):
            if moment is not None and moment.tzinfo is None:
                raise BadRequest(f"{name} needs a time zone (e.g. 2026-01-31T12:00:00Z)")
        statement = self.events.filtered(
            actor_id=actor_id,
            actor_kind=actor_kind,
            api_key_id=api_key_id,
            tenant_id=tenant_id,
            object_type=object_type,
            object_id=object_id,
            action=action,
            outcome=outcome,
            since=since,
            until=until,
        )
        return await list_page(self.events, statement, sort=sort, cursor=cursor, limit=limit)
