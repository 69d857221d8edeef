from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from libs.web.pagination import Page, PageParams
from services.switch_api.audit.schemas import AuditEvent
from services.switch_api.audit.service import AuditService
from services.switch_api.deps import SecurityRead, UnitOfWorkDep
from services.switch_api.openapi import errors

router = APIRouter(prefix="/v1/audit-events", tags=["audit"])

Text = Annotated[str | None, Query(max_length=100)]


@router.get("", operation_id="audit_events_list", responses=errors(400))
async def list_audit_events(
    _: SecurityRead,
    uow: UnitOfWorkDep,
    page: PageParams,
    actor_id: Text = None,
    actor_kind: Text = None,
    api_key_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
    object_type: Text = None,
    object_id: Text = None,
    action: Text = None,
    outcome: Text = None,
    since: Annotated[datetime | None, Query(description="At or after (ISO 8601, with zone).")] = (
        None
    ),
    until: Annotated[datetime | None, Query(description="Before (ISO 8601, with zone).")] = None,
    sort: Annotated[str, Query(description="`at` or `-at` (newest first).")] = "-at",
) -> Page[AuditEvent]:
    """Search the audit log (newest first by default)."""
    result = await AuditService(uow).search(
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
        sort=sort,
        cursor=page.cursor,
        limit=page.limit,
    )
    return Page[AuditEvent](
        items=[AuditEvent.model_validate(e) for e in result.items], next_cursor=result.next_cursor
    )
