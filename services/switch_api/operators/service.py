from __future__ import annotations

import uuid

from libs.db import KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import Operator, OperatorRole
from libs.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from libs.identity import IdentityContext, NewPerson, Principal, create_operator
from libs.identity.accounts import validate_allowed_sources
from libs.identity.people import account_throttle_key
from libs.identity.permissions import is_subset, parse_permissions
from libs.identity.repositories import OperatorRepository, RoleRepository, ThrottleRepository
from libs.security import PrincipalKind
from services.switch_api.operators.schemas import OperatorCreate, OperatorUpdate


class OperatorService:
    def __init__(self, uow: UnitOfWork, identity: IdentityContext) -> None:
        self.uow = uow
        self.identity = identity
        self.operators = OperatorRepository(uow.session)
        self.roles = RoleRepository(uow.session)

    async def list(
        self,
        *,
        role_id: uuid.UUID | None,
        email_contains: str | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[Operator]:
        statement = self.operators.filtered(role_id=role_id, email_contains=email_contains)
        return await list_page(self.operators, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, operator_id: uuid.UUID) -> Operator:
        operator = await self.operators.get(operator_id)
        if operator is None:
            raise NotFound(f"No operator with id {operator_id}")
        return operator

    async def _grantable_role(self, principal: Principal, role_id: uuid.UUID) -> OperatorRole:
        """The role, if ``principal`` holds every right it grants (no escalation)."""
        role = await self.roles.get(role_id)
        if role is None:
            raise ValidationFailed(f"No role with id {role_id}")
        if not is_subset(parse_permissions(role.permissions), principal.permissions):
            raise PermissionDenied(f"Role {role.name!r} grants rights you do not have.")
        return role

    async def _manageable(self, principal: Principal, operator_id: uuid.UUID) -> Operator:
        operator = await self.get(operator_id)
        if operator.id == principal.user_id:
            raise PermissionDenied("Operators cannot change their own role or access.")
        await self._grantable_role(principal, operator.role_id)
        return operator

    async def create(self, principal: Principal, data: OperatorCreate) -> NewPerson:
        await self._grantable_role(principal, data.role_id)
        return await create_operator(
            self.uow.session,
            self.identity,
            email=data.email,
            name=data.name,
            role_id=data.role_id,
            allowed_sources=data.allowed_sources,
        )

    async def update(
        self, principal: Principal, operator_id: uuid.UUID, data: OperatorUpdate
    ) -> Operator:
        operator = await self._manageable(principal, operator_id)
        if data.role_id is not None:
            operator.role_id = (await self._grantable_role(principal, data.role_id)).id
        if data.name is not None:
            operator.name = data.name
        if data.allowed_sources is not None:
            operator.allowed_sources = validate_allowed_sources(data.allowed_sources)
        if data.disabled is not None:
            operator.disabled = data.disabled
        await self.operators.flush()
        return operator

    async def delete(self, principal: Principal, operator_id: uuid.UUID) -> None:
        operator = await self._manageable(principal, operator_id)
        await self.operators.delete(operator)

    async def unlock(self, operator_id: uuid.UUID) -> None:
        """Lift the login delay or lockout of an operator's account."""
        operator = await self.get(operator_id)
        throttles = ThrottleRepository(self.uow.session)
        row = await throttles.by_key(account_throttle_key(PrincipalKind.OPERATOR, operator.email))
        if row is not None:
            await throttles.delete(row)


async def ensure_role_unused(uow: UnitOfWork, role_id: uuid.UUID) -> None:
    if await OperatorRepository(uow.session).uses_role(role_id):
        raise Conflict("Operators still have this role: give them another one first.")
