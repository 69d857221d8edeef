"""API keys: created by a principal for automation, shown once, stored hashed, revocable.

A key's rights are chosen at creation and must be a subset of its creator's; at each use they
are intersected again with what the owner may do then. Operators' keys (owned by the operator
who made them) work on switch_api; customers' keys (owned by the customer account) work on
customer_api, inside that customer only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from libs.db import KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import ApiKey
from libs.errors import NotFound, PermissionDenied
from libs.identity.accounts import validate_allowed_sources
from libs.identity.auth import API_KEY_PREFIX
from libs.identity.context import IdentityContext
from libs.identity.permissions import Access, Area, full, is_subset, to_json
from libs.identity.principal import Principal
from libs.identity.repositories import ApiKeyRepository
from libs.security import PrincipalKind, new_token

__all__ = ["ApiKeyService", "CreatedApiKey"]


@dataclass(frozen=True, slots=True, repr=False)
class CreatedApiKey:
    """A new key's row and its plaintext, which is shown this once and never again."""

    key: ApiKey
    plaintext: str

    def __repr__(self) -> str:
        return f"CreatedApiKey(id={self.key.id}, plaintext=<hidden>)"


class ApiKeyService:
    def __init__(self, uow: UnitOfWork, identity: IdentityContext) -> None:
        self.uow = uow
        self.identity = identity
        self.keys = ApiKeyRepository(uow.session)

    def _tenant(self, principal: Principal) -> uuid.UUID | None:
        return principal.tenant if self.identity.kind is PrincipalKind.CUSTOMER else None

    async def create(
        self,
        principal: Principal,
        *,
        name: str,
        permissions: Mapping[Area, Access],
        allowed_sources: Sequence[str] = (),
    ) -> CreatedApiKey:
        """A new key for ``principal``'s operator or customer, with at most its rights."""
        wanted = full(permissions)
        if not is_subset(wanted, principal.permissions):
            beyond = sorted(
                f"{area.value}:{access.value}"
                for area, access in wanted.items()
                if access.level > principal.permissions.get(area, Access.NONE).level
            )
            raise PermissionDenied(
                "An API key cannot have rights its creator lacks: " + ", ".join(beyond)
            )
        owner: dict[str, uuid.UUID | None]
        if self.identity.kind is PrincipalKind.OPERATOR:
            if principal.user_id is None:
                raise PermissionDenied("This principal cannot own API keys.")
            owner = {"operator_id": principal.user_id, "customer_id": None}
        else:
            owner = {"operator_id": None, "customer_id": principal.tenant}
        token = new_token(API_KEY_PREFIX)
        key = ApiKey(
            id=uuid.uuid4(),
            lookup_id=token.lookup_id,
            key_hash=token.token_hash,
            name=name,
            permissions=to_json(wanted),
            allowed_sources=validate_allowed_sources(allowed_sources),
            **owner,
        )
        await self.keys.add(key)
        return CreatedApiKey(key, token.plaintext)

    async def list(
        self, principal: Principal, *, sort: str, cursor: str | None, limit: int
    ) -> KeysetPage[ApiKey]:
        statement = self.keys.owned(customer_id=self._tenant(principal))
        return await list_page(self.keys, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, principal: Principal, key_id: uuid.UUID) -> ApiKey:
        key = await self.keys.get(key_id)
        tenant = self._tenant(principal)
        visible = key is not None and (
            key.customer_id == tenant if tenant is not None else key.operator_id is not None
        )
        if key is None or not visible:
            raise NotFound(f"No API key with id {key_id}")
        return key

    async def revoke(self, principal: Principal, key_id: uuid.UUID) -> ApiKey:
        """Revoke a key now (idempotent); it stays listed, marked revoked."""
        key = await self.get(principal, key_id)
        if key.revoked_at is None:
            key.revoked_at = self.identity.now_dt()
            await self.keys.flush()
        return key
