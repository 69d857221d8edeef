from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.db.models import RewriteTarget
from libs.web.pagination import Page, PageParams
from services.switch_api.deps import CustomersRead, CustomersWrite, LiveDep, UnitOfWorkDep
from services.switch_api.openapi import errors
from services.switch_api.rewrite_rules.schemas import (
    RewriteRule,
    RewriteRuleCreate,
    RewriteRuleUpdate,
    RewriteTest,
    RewriteTestResult,
)
from services.switch_api.rewrite_rules.service import RewriteRuleService

router = APIRouter(prefix="/v1/rewrite-rules", tags=["rewrite-rules"])


@router.get("", operation_id="rewrite_rules_list", responses=errors(400))
async def list_rewrite_rules(
    _: CustomersRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`order` or `created_at`; `-` reverses.")] = "order",
    ip_auth_id: uuid.UUID | None = None,
    sip_user_id: uuid.UUID | None = None,
    target: RewriteTarget | None = None,
) -> Page[RewriteRule]:
    """List rewrite rules (of one owner, with a filter)."""
    result = await RewriteRuleService(uow, live).list(
        ip_auth_id=ip_auth_id,
        sip_user_id=sip_user_id,
        target=target,
        sort=sort,
        cursor=page.cursor,
        limit=page.limit,
    )
    return Page[RewriteRule](
        items=[RewriteRule.model_validate(r) for r in result.items],
        next_cursor=result.next_cursor,
    )


@router.post(
    "",
    operation_id="rewrite_rules_create",
    status_code=status.HTTP_201_CREATED,
    responses=errors(),
)
async def create_rewrite_rule(
    _: CustomersWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    data: RewriteRuleCreate,
    response: Response,
) -> RewriteRule:
    """Add a rewrite rule to an IP authentication entry or a SIP user."""
    rule = await RewriteRuleService(uow, live).create(data)
    response.headers["Location"] = f"/v1/rewrite-rules/{rule.id}"
    return RewriteRule.model_validate(rule)


@router.post("/test", operation_id="rewrite_rules_test", responses=errors())
async def try_rewrite_rules(
    _: CustomersRead, uow: UnitOfWorkDep, live: LiveDep, data: RewriteTest
) -> RewriteTestResult:
    """Apply saved and/or draft rules to a number and show each step."""
    return await RewriteRuleService(uow, live).test(data)


@router.get("/{rule_id}", operation_id="rewrite_rules_get", responses=errors(404))
async def get_rewrite_rule(
    _: CustomersRead, uow: UnitOfWorkDep, live: LiveDep, rule_id: uuid.UUID
) -> RewriteRule:
    """Get a rewrite rule."""
    return RewriteRule.model_validate(await RewriteRuleService(uow, live).get(rule_id))


@router.patch("/{rule_id}", operation_id="rewrite_rules_update", responses=errors(404))
async def update_rewrite_rule(
    _: CustomersWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    rule_id: uuid.UUID,
    data: RewriteRuleUpdate,
) -> RewriteRule:
    """Change a rewrite rule."""
    return RewriteRule.model_validate(await RewriteRuleService(uow, live).update(rule_id, data))


@router.delete(
    "/{rule_id}",
    operation_id="rewrite_rules_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_rewrite_rule(
    _: CustomersWrite, uow: UnitOfWorkDep, live: LiveDep, rule_id: uuid.UUID
) -> None:
    """Delete a rewrite rule."""
    await RewriteRuleService(uow, live).delete(rule_id)
