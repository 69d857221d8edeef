"""``/v1/api-keys``: keys for automation, shown once, scoped, revocable."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from libs.identity import ApiKeyService, Principal
from libs.identity.permissions import Access, Area
from libs.web.auth import require
from libs.web.deps import IdentityDep, UnitOfWorkDep
from libs.web.identity.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated
from libs.web.pagination import Page, PageParams
from libs.web.problems import error_responses

__all__ = ["api_keys_router"]

SecurityRead = Annotated[Principal, require(Area.SECURITY, Access.READ)]
SecurityWrite = Annotated[Principal, require(Area.SECURITY, Access.WRITE)]


def api_keys_router() -> APIRouter:
    router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"])

    @router.get("", operation_id="api_keys_list", responses=error_responses(400, 401, 403))
    async def list_api_keys(
        uow: UnitOfWorkDep,
        identity: IdentityDep,
        principal: SecurityRead,
        page: PageParams,
        sort: Annotated[str, Query(description="`name` or `created_at`; `-` reverses.")] = (
            "-created_at"
        ),
    ) -> Page[ApiKey]:
        """List API keys (never their secret)."""
        result = await ApiKeyService(uow, identity).list(
            principal, sort=sort, cursor=page.cursor, limit=page.limit
        )
        return Page[ApiKey](
            items=[ApiKey.model_validate(k) for k in result.items], next_cursor=result.next_cursor
        )

    @router.post(
        "",
        operation_id="api_keys_create",
        status_code=status.HTTP_201_CREATED,
        responses=error_responses(401, 403),
    )
    async def create_api_key(
        uow: UnitOfWorkDep,
        identity: IdentityDep,
        principal: SecurityWrite,
        data: ApiKeyCreate,
        response: Response,
    ) -> ApiKeyCreated:
        """Create an API key with at most your own rights; the key is shown only here."""
        created = await ApiKeyService(uow, identity).create(
            principal,
            name=data.name,
            permissions=data.permissions,
            allowed_sources=data.allowed_sources,
        )
        response.headers["Location"] = f"/v1/api-keys/{created.key.id}"
        return ApiKeyCreated.model_validate(
            {**ApiKey.model_validate(created.key).model_dump(), "key": created.plaintext}
        )

    @router.get("/{key_id}", operation_id="api_keys_get", responses=error_responses(401, 403, 404))
    async def get_api_key(
        uow: UnitOfWorkDep, identity: IdentityDep, principal: SecurityRead, key_id: uuid.UUID
    ) -> ApiKey:
        """Get an API key (never its secret)."""
        return ApiKey.model_validate(await ApiKeyService(uow, identity).get(principal, key_id))

    @router.delete(
        "/{key_id}",
        operation_id="api_keys_revoke",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(401, 403, 404),
    )
    async def revoke_api_key(
        request: Request,
        uow: UnitOfWorkDep,
        identity: IdentityDep,
        principal: SecurityWrite,
        key_id: uuid.UUID,
    ) -> None:
        """Revoke an API key: it stops working at once."""
        key = await ApiKeyService(uow, identity).revoke(principal, key_id)
        # Services that copy keys elsewhere (switch_api publishes lookup_api's verifiers)
        # register ``(uow, key id)`` callbacks here to withdraw them after the commit.
        for hook in getattr(request.app.state, "api_key_revoked", ()):
            hook(uow, key.id)

    return router
