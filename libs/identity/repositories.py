"""All the SQL of identity: people, roles, sessions, refresh tokens, API keys, throttles, codes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from libs.db import Repository, SortKey
from libs.db.models import (
    ApiKey,
    AuthSession,
    CustomerUser,
    LoginThrottle,
    Operator,
    OperatorRole,
    RecoveryCode,
    RefreshToken,
)

__all__ = [
    "ApiKeyRepository",
    "CustomerUserRepository",
    "OperatorRepository",
    "PersonRepository",
    "RecoveryCodeRepository",
    "RefreshTokenRepository",
    "RoleRepository",
    "SessionRepository",
    "ThrottleRepository",
]

P = TypeVar("P", Operator, CustomerUser)


class PersonRepository(Repository[P], Generic[P]):
    """Operators or customer users: what login, sessions and TOTP need of either."""

    async def by_email(self, email: str) -> P | None:
        """The person with this (already normalised) email."""
        result = await self.session.scalars(select(self.model).where(self.model.email == email))
        return cast(P | None, result.first())

    async def store_totp_step(self, person_id: uuid.UUID, step: int) -> bool:
        """Record ``step`` as the last accepted TOTP step, unless a later one is recorded.

        A single conditional UPDATE, so two requests racing with the same code cannot both win:
        the loser sees ``False`` (RFC 6238 §5.2: never accept the same OTP twice).
        """
        model = self.model
        result = await self.session.execute(
            update(model)
            .where(model.id == person_id)
            .where((model.totp_last_step.is_(None)) | (model.totp_last_step < step))
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


class OperatorRepository(PersonRepository[Operator]):
    model = Operator
    sort_keys = {
        "email": SortKey(Operator.email),
        "created_at": SortKey(Operator.created_at, datetime.fromisoformat),
    }

    def filtered(
        self, *, role_id: uuid.UUID | None = None, email_contains: str | None = None
    ) -> Select[tuple[Operator]]:
        statement = self.select()
        if role_id is not None:
            statement = statement.where(Operator.role_id == role_id)
        if email_contains:
            statement = statement.where(Operator.email.icontains(email_contains, autoescape=True))
        return statement

    async def count(self) -> int:
        """How many operators exist (the bootstrap hint shows when none does)."""
        return int(await self.session.scalar(select(func.count()).select_from(Operator)) or 0)

    async def uses_role(self, role_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            select(Operator.id).where(Operator.role_id == role_id).limit(1)
        )
        return found is not None


class CustomerUserRepository(PersonRepository[CustomerUser]):
    model = CustomerUser
    sort_keys = {
        "email": SortKey(CustomerUser.email),
        "created_at": SortKey(CustomerUser.created_at, datetime.fromisoformat),
    }

    def filtered(self, *, customer_id: uuid.UUID | None = None) -> Select[tuple[CustomerUser]]:
        statement = self.select()
        if customer_id is not None:
            statement = statement.where(CustomerUser.customer_id == customer_id)
        return statement


class RoleRepository(Repository[OperatorRole]):
    model = OperatorRole
    sort_keys = {
        "name": SortKey(OperatorRole.name),
        "created_at": SortKey(OperatorRole.created_at, datetime.fromisoformat),
    }

    async def by_name(self, name: str) -> OperatorRole | None:
        result = await self.session.scalars(select(OperatorRole).where(OperatorRole.name == name))
        return result.first()


class SessionRepository(Repository[AuthSession]):
    model = AuthSession
    sort_keys = {}  # never listed

    async def get_for_update(self, session_id: uuid.UUID) -> AuthSession | None:
        result = await self.session.scalars(
            select(AuthSession)
            .where(AuthSession.id == session_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return result.first()

    async def revoke_all(
        self,
        *,
        operator_id: uuid.UUID | None,
        customer_user_id: uuid.UUID | None,
        now: datetime,
        reason: str,
        keep: uuid.UUID | None = None,
    ) -> Sequence[AuthSession]:
        """Revoke every live session of one person (except ``keep``); returns them."""
        statement = select(AuthSession).where(AuthSession.revoked_at.is_(None))
        if operator_id is not None:
            statement = statement.where(AuthSession.operator_id == operator_id)
        else:
            statement = statement.where(AuthSession.customer_user_id == customer_user_id)
        if keep is not None:
            statement = statement.where(AuthSession.id != keep)
        sessions = (await self.session.scalars(statement)).all()
        for auth_session in sessions:
            auth_session.revoked_at = now
            auth_session.revoked_reason = reason
        await self.flush()
        return sessions


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken
    sort_keys = {}  # never listed

    async def by_lookup_for_update(self, lookup_id: str) -> RefreshToken | None:
        result = await self.session.scalars(
            select(RefreshToken)
            .where(RefreshToken.lookup_id == lookup_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return result.first()


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey
    sort_keys = {
        "name": SortKey(ApiKey.name),
        "created_at": SortKey(ApiKey.created_at, datetime.fromisoformat),
    }

    async def by_lookup(self, lookup_id: str) -> ApiKey | None:
        result = await self.session.scalars(select(ApiKey).where(ApiKey.lookup_id == lookup_id))
        return result.first()

    def owned(self, *, customer_id: uuid.UUID | None) -> Select[tuple[ApiKey]]:
        """Operators' keys (``customer_id=None``) or one customer's keys."""
        if customer_id is None:
            return self.select().where(ApiKey.operator_id.is_not(None))
        return self.select().where(ApiKey.customer_id == customer_id)

    async def touch(self, key_id: uuid.UUID, now: datetime) -> None:
        """Set ``last_used_at`` (bookkeeping: no audit entry, no ORM state)."""
        await self.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )


class ThrottleRepository(Repository[LoginThrottle]):
    model = LoginThrottle
    sort_keys = {"last_failure_at": SortKey(LoginThrottle.last_failure_at, datetime.fromisoformat)}

    async def lock(self, keys: Sequence[str]) -> dict[str, LoginThrottle]:
        """The throttle rows of ``keys``, created when missing, locked until the commit.

        The row lock (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's transactions already
        serialise writers) makes concurrent attempts on one account take turns, so a burst of
        parallel guesses cannot all slip past the delay.
        """
        bind = self.session.get_bind()
        rows = [{"id": uuid.uuid4(), "key": key, "failures": 0} for key in keys]
        insert: Any = (postgresql if bind.dialect.name == "postgresql" else sqlite).insert
        await self.session.execute(
            insert(LoginThrottle.__table__)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        result = await self.session.scalars(
            select(LoginThrottle)
            .where(LoginThrottle.key.in_(keys))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return {row.key: row for row in result}

    async def clear(self, keys: Sequence[str]) -> None:
        """Forget the failures of ``keys`` (a successful login, an operator lifting a lock)."""
        await self.session.execute(
            delete(LoginThrottle)
            .where(LoginThrottle.key.in_(keys))
            .execution_options(synchronize_session=False)
        )

    async def by_key(self, key: str) -> LoginThrottle | None:
        result = await self.session.scalars(select(LoginThrottle).where(LoginThrottle.key == key))
        return result.first()

    async def purge(self, before: datetime) -> None:
        """Delete rows whose last failure is older than ``before`` (forgotten anyway)."""
        await self.session.execute(
            delete(LoginThrottle)
            .where(LoginThrottle.last_failure_at < before)
            .execution_options(synchronize_session=False)
        )


class RecoveryCodeRepository(Repository[RecoveryCode]):
    model = RecoveryCode
    sort_keys = {}  # never listed

    def _of(self, person: Operator | CustomerUser) -> Any:
        if isinstance(person, Operator):
            return RecoveryCode.operator_id == person.id
        return RecoveryCode.customer_user_id == person.id

    async def of(self, person: Operator | CustomerUser) -> Sequence[RecoveryCode]:
        return (await self.session.scalars(select(RecoveryCode).where(self._of(person)))).all()

    async def replace(self, person: Operator | CustomerUser, hashes: Sequence[str]) -> None:
        """Drop every code of ``person`` and store ``hashes`` as the new set."""
        await self.session.execute(
            delete(RecoveryCode)
            .where(self._of(person))
            .execution_options(synchronize_session=False)
        )
        owner = (
            {"operator_id": person.id}
            if isinstance(person, Operator)
            else {"customer_user_id": person.id}
        )
        self.session.add_all(RecoveryCode(code_hash=digest, **owner) for digest in hashes)
        await self.flush()

    async def use(self, code_id: uuid.UUID) -> bool:
        """Delete one code; ``False`` if another request used it first."""
        result = await self.session.execute(
            delete(RecoveryCode)
            .where(RecoveryCode.id == code_id)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def clear(self, person: Operator | CustomerUser) -> None:
        await self.session.execute(
            delete(RecoveryCode)
            .where(self._of(person))
            .execution_options(synchronize_session=False)
        )
