from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.db.models import FirewallAction, FirewallSource
from libs.web.pagination import Page, PageParams
from services.switch_api.deps import LiveDep, SecurityRead, SecurityWrite, UnitOfWorkDep
from services.switch_api.firewall.schemas import (
    FirewallRule,
    FirewallRuleCreate,
    FirewallRuleUpdate,
)
from services.switch_api.firewall.service import FirewallService, is_expired
from services.switch_api.openapi import errors

router = APIRouter(prefix="/v1/firewall-rules", tags=["firewall"])


def _view(rule: object) -> FirewallRule:
    fields = {name: getattr(rule, name) for name in set(FirewallRule.model_fields) - {"expired"}}
    return FirewallRule(**fields, expired=is_expired(rule))  # type: ignore[arg-type]


@router.get("", operation_id="firewall_rules_list", responses=errors(400))
async def list_firewall_rules(
    _: SecurityRead,
    uow: UnitOfWorkDep,
    live: LiveDep,
    page: PageParams,
    sort: Annotated[str, Query(description="`network` or `created_at`; `-` reverses.")] = (
        "-created_at"
    ),
    action: FirewallAction | None = None,
    source: FirewallSource | None = None,
    active: Annotated[bool, Query(description="Only rules that have not expired.")] = False,
    network_prefix: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[FirewallRule]:
    """List firewall rules (newest first)."""
    result = await FirewallService(uow, live).list(
        action=action,
        source=source,
        active=active,
        network_prefix=network_prefix,
        sort=sort,
        cursor=page.cursor,
        limit=page.limit,
    )
    return Page[FirewallRule](
        items=[_view(r) for r in result.items], next_cursor=result.next_cursor
    )


@router.post(
    "",
    operation_id="firewall_rules_create",
    status_code=status.HTTP_201_CREATED,
    responses=errors(409),
)
async def create_firewall_rule(
    _: SecurityWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    data: FirewallRuleCreate,
    response: Response,
) -> FirewallRule:
    """Block, allow or trust an address or network (applies within a second)."""
    rule = await FirewallService(uow, live).create(data)
    response.headers["Location"] = f"/v1/firewall-rules/{rule.id}"
    return _view(rule)


@router.get("/{rule_id}", operation_id="firewall_rules_get", responses=errors(404))
async def get_firewall_rule(
    _: SecurityRead, uow: UnitOfWorkDep, live: LiveDep, rule_id: uuid.UUID
) -> FirewallRule:
    """Get a firewall rule."""
    return _view(await FirewallService(uow, live).get(rule_id))


@router.patch("/{rule_id}", operation_id="firewall_rules_update", responses=errors(404, 409))
async def update_firewall_rule(
    _: SecurityWrite,
    uow: UnitOfWorkDep,
    live: LiveDep,
    rule_id: uuid.UUID,
    data: FirewallRuleUpdate,
) -> FirewallRule:
    """Change a firewall rule (its action, reason or expiry)."""
    return _view(await FirewallService(uow, live).update(rule_id, data))


@router.delete(
    "/{rule_id}",
    operation_id="firewall_rules_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_firewall_rule(
    _: SecurityWrite, uow: UnitOfWorkDep, live: LiveDep, rule_id: uuid.UUID
) -> None:
    """Delete a firewall rule (an unblock applies within a second)."""
    await FirewallService(uow, live).delete(rule_id)
