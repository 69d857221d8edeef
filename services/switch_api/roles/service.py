from __future__ import annotations

import uuid
from collections.abc import Mapping

from libs.db import DuplicateKey, KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import OperatorRole
from libs.errors import Conflict, NotFound, PermissionDenied
from libs.identity import Principal
from libs.identity.permissions import Access, Area, full, is_subset, parse_permissions, to_json
from libs.identity.repositories import RoleRepository
from services.switch_api.operators.service import ensure_role_unused
from services.switch_api.roles.schemas import RoleCreate, RoleUpdate


class RoleService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.roles = RoleRepository(uow.session)

    async def list(self, *, sort: str, cursor: str | None, limit: int) -> KeysetPage[OperatorRole]:
        return await list_page(
            self.roles, self.roles.select(), sort=sort, cursor=cursor, limit=limit
        )

    async def get(self, role_id: uuid.UUID) -> OperatorRole:
        role = await self.roles.get(role_id)
        if role is None:
            raise NotFound(f"No role with id {role_id}")
        return role

    @staticmethod
    def _grantable(principal: Principal, permissions: Mapping[Area, Access]) -> dict[str, str]:
        if not is_subset(full(permissions), principal.permissions):
            raise PermissionDenied("A role cannot grant rights you do not have.")
        return to_json(permissions)

    async def _editable(self, principal: Principal, role_id: uuid.UUID) -> OperatorRole:
        role = await self.get(role_id)
        if role.builtin:
            raise PermissionDenied(f"The built-in role {role.name!r} cannot be changed.")
        if not is_subset(parse_permissions(role.permissions), principal.permissions):
            raise PermissionDenied(f"Role {role.name!r} grants rights you do not have.")
        return role

    async def create(self, principal: Principal, data: RoleCreate) -> OperatorRole:
        role = OperatorRole(
            name=data.name,
            description=data.description,
            builtin=False,
            permissions=self._grantable(principal, data.permissions),
        )
        try:
            return await self.roles.add(role)
        except DuplicateKey:
            raise Conflict(f"A role named {data.name!r} already exists") from None

    async def update(
        self, principal: Principal, role_id: uuid.UUID, data: RoleUpdate
    ) -> OperatorRole:
        role = await self._editable(principal, role_id)
        if data.name is not None:
            role.name = data.name
        if data.description is not None:
            role.description = data.description
        if data.permissions is not None:
            role.permissions = self._grantable(principal, data.permissions)
        try:
            await self.roles.flush()
        except DuplicateKey:
            raise Conflict(f"A role named {data.name!r} already exists") from None
        return role

    async def delete(self, principal: Principal, role_id: uuid.UUID) -> None:
        role = await self._editable(principal, role_id)
        await ensure_role_unused(self.uow, role.id)
        await self.roles.delete(role)
