from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select

from libs.db import Repository, SortKey
from libs.db.models import AuditEvent


class AuditEventRepository(Repository[AuditEvent]):
    model = AuditEvent
    sort_keys = {"at": SortKey(AuditEvent.at, datetime.fromisoformat)}

    def filtered(
        self,
        *,
        actor_id: str | None = None,
        actor_kind: str | None = None,
        api_key_id: uuid.UUID | None = None,
        tenant_id: uuid.UUID | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Select[tuple[AuditEvent]]:
        statement = self.select()
        for column, value in (
            (AuditEvent.actor_id, actor_id),
            (AuditEvent.actor_kind, actor_kind),
            (AuditEvent.api_key_id, api_key_id),
            (AuditEvent.tenant_id, tenant_id),
            (AuditEvent.object_type, object_type),
            (AuditEvent.object_id, object_id),
            (AuditEvent.action, action),
            (AuditEvent.outcome, outcome),
        ):
            if value is not None:
                statement = statement.where(column == value)
        if since is not None:
            statement = statement.where(AuditEvent.at >= since)
        if until is not None:
            statement = statement.where(AuditEvent.at < until)
        return statement
