"""A person's own account: password changes, TOTP enrolment and removal, recovery codes; and
creating people with a one-time password (the bootstrap operator, new operators and users)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from libs.db import DuplicateKey, UnitOfWork
from libs.db.models import CustomerUser, CustomerUserRole, Operator, OperatorRole
from libs.errors import (
    BadRequest,
    Conflict,
    FieldError,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from libs.identity.context import IdentityContext
from libs.identity.people import (
    Person,
    account_throttle_key,
    kind_of,
    people,
    store_throttle,
    throttle_state,
    totp_associated_data,
)
from libs.identity.permissions import BUILTIN_ROLES, to_json
from libs.identity.principal import Principal
from libs.identity.repositories import (
    CustomerUserRepository,
    OperatorRepository,
    RecoveryCodeRepository,
    RoleRepository,
    SessionRepository,
    ThrottleRepository,
)
from libs.security import (
    AddressAcl,
    InvalidNetwork,
    SecretOrigin,
    generate_secret,
    totp,
)
from libs.security import throttle as throttling
from libs.security.policy import normalize_email

__all__ = [
    "AccountService",
    "NewPerson",
    "TotpEnrolment",
    "create_customer_user",
    "create_operator",
    "ensure_builtin_roles",
    "validate_allowed_sources",
    "validate_email",
]

ONE_TIME_PASSWORD_LENGTH = 20


@dataclass(frozen=True, slots=True, repr=False)
class TotpEnrolment:
    """What an authenticator app needs: the secret, as text, URI and QR code (shown once)."""

    secret: str
    otpauth_uri: str
    qr_png: bytes

    @property
    def qr_png_base64(self) -> str:
        return base64.b64encode(self.qr_png).decode("ascii")

    def __repr__(self) -> str:
        return "TotpEnrolment(<hidden>)"


@dataclass(frozen=True, slots=True, repr=False)
class NewPerson:
    """A created operator or customer user and their one-time password (shown once)."""

    person: Person
    one_time_password: str

    def __repr__(self) -> str:
        return f"NewPerson(id={self.person.id}, one_time_password=<hidden>)"


def validate_email(email: str, loc: Sequence[str] = ("body", "email")) -> str:
    """The normalised form of ``email``; 422 unless it looks like ``local@domain``."""
    normalized = normalize_email(email)
    local, at, domain = normalized.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in normalized):
        raise ValidationFailed(
            "not an email address", errors=[FieldError(loc, "not an email address")]
        )
    return normalized


def validate_allowed_sources(
    entries: Sequence[str], loc: Sequence[str] = ("body", "allowed_sources")
) -> list[str]:
    """The allow list as given, after checking every entry is an address or CIDR network."""
    try:
        AddressAcl.parse(entries)
    except InvalidNetwork as exc:
        raise ValidationFailed(str(exc), errors=[FieldError(loc, str(exc))]) from None
    return list(entries)


async def ensure_builtin_roles(session: AsyncSession) -> dict[str, OperatorRole]:
    """Create the built-in roles where missing and reset their rights to the code's definition."""
    roles = RoleRepository(session)
    found: dict[str, OperatorRole] = {}
    for name, (description, permissions) in BUILTIN_ROLES.items():
        role = await roles.by_name(name)
        if role is None:
            role = OperatorRole(name=name, builtin=True)
            session.add(role)
        role.description = description
        role.builtin = True
        role.permissions = to_json(permissions)
        found[name] = role
    await session.flush()
    return found


async def create_operator(
    session: AsyncSession,
    identity: IdentityContext,
    *,
    email: str,
    role_id: uuid.UUID,
    name: str = "",
    allowed_sources: Sequence[str] = (),
) -> NewPerson:
    """A new operator with a machine-generated one-time password (to change at first login).

    The first login then reaches only the password change and TOTP enrolment.
    """
    normalized = validate_email(email)
    operators = OperatorRepository(session)
    if await operators.by_email(normalized) is not None:
        raise Conflict(f"An operator with email {normalized!r} already exists.")
    password = generate_secret(ONE_TIME_PASSWORD_LENGTH)
    operator = Operator(
        id=uuid.uuid4(),
        email=normalized,
        name=name,
        role_id=role_id,
        password_hash=await identity.hash_password(password, normalized),
        must_change_password=True,
        allowed_sources=validate_allowed_sources(allowed_sources),
        disabled=False,
    )
    try:
        await operators.add(operator)
    except DuplicateKey:  # created by a concurrent request since the check above
        raise Conflict(f"An operator with email {normalized!r} already exists.") from None
    return NewPerson(operator, password)


async def create_customer_user(
    session: AsyncSession,
    identity: IdentityContext,
    *,
    customer_id: uuid.UUID,
    email: str,
    role: CustomerUserRole,
    name: str = "",
    allowed_sources: Sequence[str] = (),
) -> NewPerson:
    """A new customer user with a one-time password (to change at first login)."""
    normalized = validate_email(email)
    users = CustomerUserRepository(session)
    if await users.by_email(normalized) is not None:
        raise Conflict(f"A customer user with email {normalized!r} already exists.")
    password = generate_secret(ONE_TIME_PASSWORD_LENGTH)
    user = CustomerUser(
        id=uuid.uuid4(),
        customer_id=customer_id,
        email=normalized,
        name=name,
        role=role,
        password_hash=await identity.hash_password(password, normalized),
        must_change_password=True,
        allowed_sources=validate_allowed_sources(allowed_sources),
        disabled=False,
    )
    try:
        await users.add(user)
    except DuplicateKey:
        raise Conflict(f"A customer user with email {normalized!r} already exists.") from None
    return NewPerson(user, password)


class AccountService:
    """What a logged-in person does to their own account."""

    def __init__(self, uow: UnitOfWork, identity: IdentityContext) -> None:
        self.uow = uow
        self.identity = identity
        self.session = uow.session

    async def person(self, principal: Principal) -> Person:
        """The principal's own account (people only: API keys have none)."""
        if principal.user_id is None or principal.is_api_key:
            raise PermissionDenied("API keys have no account of their own.")
        person = await people(self.session, self.identity.kind).get(principal.user_id)
        if person is None:
            raise Unauthenticated("The account no longer exists.")
        return person

    # -- second-factor guard -------------------------------------------------------------------

    async def _check_throttle(self, person: Person) -> None:
        """Refuse (429) while the account's login throttle says wait.

        Wrong codes and passwords given here count on the same throttle as logins: without it a
        stolen session could try every TOTP code to remove the second factor.
        """
        identity = self.identity
        key = account_throttle_key(kind_of(person), person.email)
        row = (await ThrottleRepository(self.session).lock([key]))[key]
        decision = throttling.check(throttle_state(row), identity.now(), identity.throttle)
        if not decision.allowed:
            await self.uow.commit()
            raise RateLimited(
                f"Too many wrong attempts: try again in {decision.retry_after_seconds} s.",
                retry_after=decision.retry_after_seconds,
            )

    async def _record_failure(self, person: Person) -> None:
        """Count a wrong password or code, and commit it before the error is raised."""
        identity = self.identity
        key = account_throttle_key(kind_of(person), person.email)
        row = (await ThrottleRepository(self.session).lock([key]))[key]
        store_throttle(
            row, throttling.record_failure(throttle_state(row), identity.now(), identity.throttle)
        )
        await self.uow.commit()

    async def _verify_totp(self, person: Person, code: str, loc: Sequence[str]) -> None:
        """Accept a current TOTP code of ``person`` (once), or fail with 422."""
        await self._check_throttle(person)
        if person.totp_secret is None:
            raise Conflict("No second factor is enrolled.")
        identity = self.identity
        secret = identity.encryption.decrypt(person.totp_secret, totp_associated_data(person))
        step = totp.verify(
            secret.decode("ascii"), code, now=identity.now(), last_used_step=person.totp_last_step
        )
        if step is None or not await people(self.session, identity.kind).store_totp_step(
            person.id, step
        ):
            await self._record_failure(person)
            raise ValidationFailed(
                "The code is wrong, expired or already used.",
                errors=[FieldError(loc, "wrong, expired or already used", "bad_totp")],
            )
        person.totp_last_step = step

    # -- password ------------------------------------------------------------------------------

    async def change_password(
        self, principal: Principal, *, current_password: str, new_password: str
    ) -> None:
        """Replace the password (NIST rules), end the person's other sessions."""
        identity = self.identity
        person = await self.person(principal)
        await self._check_throttle(person)
        if not await identity.verify_password(person.password_hash, current_password, person.email):
            await self._record_failure(person)
            raise ValidationFailed(
                "The current password is wrong.",
                errors=[
                    FieldError(
                        ["body", "current_password"], "the current password is wrong", "wrong"
                    )
                ],
            )
        result = identity.policy.check(
            new_password,
            email=person.email,
            username=person.name or None,
            origin=SecretOrigin.PERSON,
        )
        errors = [
            FieldError(["body", "new_password"], violation.message, str(violation.code))
            for violation in result.violations
        ]
        if new_password == current_password:
            errors.append(
                FieldError(["body", "new_password"], "choose a different password", "unchanged")
            )
        if errors:
            raise ValidationFailed(
                "The new password is not acceptable: " + "; ".join(e["msg"] for e in errors),
                errors=errors,
            )
        person.password_hash = await identity.hash_password(new_password, person.email)
        person.must_change_password = False
        await SessionRepository(self.session).revoke_all(
            **_owner_ids(person),
            now=identity.now_dt(),
            reason="password_changed",
            keep=principal.session_id,
        )

    # -- TOTP ----------------------------------------------------------------------------------

    async def begin_totp_enrolment(self, principal: Principal) -> TotpEnrolment:
        """A new pending secret: its URI and QR code, to confirm with a first valid code."""
        identity = self.identity
        person = await self.person(principal)
        if person.totp_secret is not None:
            raise Conflict("A second factor is already enrolled.")
        secret = totp.new_secret()
        person.totp_pending_secret = identity.encryption.encrypt(
            secret.encode("ascii"), totp_associated_data(person)
        )
        uri = totp.provisioning_uri(secret, person.email, identity.totp_issuer)
        return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_png=totp.provisioning_qr_png(uri))

    async def confirm_totp_enrolment(self, principal: Principal, code: str) -> tuple[str, ...]:
        """Activate the pending secret with a first valid code; returns 10 recovery codes."""
        identity = self.identity
        person = await self.person(principal)
        if person.totp_secret is not None:
            raise Conflict("A second factor is already enrolled.")
        if person.totp_pending_secret is None:
            raise BadRequest("Start the enrolment first (POST /v1/auth/totp/enrol).")
        await self._check_throttle(person)
        secret = identity.encryption.decrypt(
            person.totp_pending_secret, totp_associated_data(person)
        )
        step = totp.verify(secret.decode("ascii"), code, now=identity.now(), last_used_step=None)
        if step is None:
            await self._record_failure(person)
            raise ValidationFailed(
                "The code is wrong or expired: check the authenticator app's clock.",
                errors=[FieldError(["body", "code"], "wrong or expired", "bad_totp")],
            )
        person.totp_secret = person.totp_pending_secret
        person.totp_pending_secret = None
        person.totp_last_step = step
        return await self._new_recovery_codes(person)

    async def remove_totp(self, principal: Principal, code: str) -> None:
        """Remove the second factor (customer users only; it needs a current code)."""
        person = await self.person(principal)
        if isinstance(person, Operator):
            raise PermissionDenied("Two-factor authentication is mandatory for operators.")
        await self._verify_totp(person, code, ["body", "code"])
        person.totp_secret = None
        person.totp_pending_secret = None
        person.totp_last_step = None
        await RecoveryCodeRepository(self.session).clear(person)

    async def regenerate_recovery_codes(self, principal: Principal, code: str) -> tuple[str, ...]:
        """Replace every recovery code (the old ones stop working); needs a current code."""
        person = await self.person(principal)
        await self._verify_totp(person, code, ["body", "code"])
        return await self._new_recovery_codes(person)

    async def _new_recovery_codes(self, person: Person) -> tuple[str, ...]:
        codes = totp.generate_recovery_codes(10)
        await RecoveryCodeRepository(self.session).replace(person, codes.hashes)
        return codes.codes


def _owner_ids(person: Person) -> dict[str, uuid.UUID | None]:
    if isinstance(person, Operator):
        return {"operator_id": person.id, "customer_user_id": None}
    return {"operator_id": None, "customer_user_id": person.id}
