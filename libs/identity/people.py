"""What operators and customer users share: lookups by kind, restrictions, rights, allow lists."""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from libs.db.models import CustomerUser, CustomerUserRole, LoginThrottle, Operator, OperatorRole
from libs.identity.permissions import CUSTOMER_ROLES, CustomerRole, Permissions, parse_permissions
from libs.identity.principal import Restriction
from libs.identity.repositories import CustomerUserRepository, OperatorRepository
from libs.security import AddressAcl, InvalidNetwork, PrincipalKind, ThrottleState
from libs.security.policy import normalize_email

__all__ = [
    "Person",
    "account_throttle_key",
    "kind_of",
    "owner_columns",
    "people",
    "permissions_of",
    "restrictions_of",
    "source_allowed",
    "source_throttle_key",
    "store_throttle",
    "throttle_state",
    "totp_associated_data",
]

Person = Operator | CustomerUser


def people(
    session: AsyncSession, kind: PrincipalKind
) -> OperatorRepository | CustomerUserRepository:
    """The repository of the people who log in to the API serving ``kind``."""
    if kind is PrincipalKind.OPERATOR:
        return OperatorRepository(session)
    return CustomerUserRepository(session)


def kind_of(person: Person) -> PrincipalKind:
    return PrincipalKind.OPERATOR if isinstance(person, Operator) else PrincipalKind.CUSTOMER


def restrictions_of(person: Person) -> frozenset[Restriction]:
    """What ``person`` must do before anything but enrolment: TOTP (operators), a new password."""
    found: set[Restriction] = set()
    if isinstance(person, Operator) and person.totp_secret is None:
        found.add(Restriction.TOTP_ENROLMENT)
    if person.must_change_password:
        found.add(Restriction.PASSWORD_CHANGE)
    return frozenset(found)


async def permissions_of(session: AsyncSession, person: Person) -> Permissions:
    """An operator's role's rights, or a customer user's fixed role's rights."""
    if isinstance(person, Operator):
        role = await session.get(OperatorRole, person.role_id)
        return parse_permissions(role.permissions if role is not None else None)
    return CUSTOMER_ROLES[CustomerRole(CustomerUserRole(person.role).value)]


def source_allowed(allowed_sources: list[str] | None, address: str) -> bool:
    """True if ``address`` is in the allow list (an empty list allows every address).

    An unparseable stored list or address is refused rather than ignored.
    """
    if not allowed_sources:
        return True
    try:
        return AddressAcl.parse(allowed_sources).allows(address)
    except InvalidNetwork:
        return False


def account_throttle_key(kind: PrincipalKind, email: str) -> str:
    """``account:<kind>:<SHA-256 of the normalised email>``."""
    digest = hashlib.sha256(normalize_email(email).encode("utf-8", "surrogatepass")).hexdigest()
    return f"account:{kind.value}:{digest}"


def source_throttle_key(address: str) -> str:
    """``source:<address>``; an IPv6 address counts as its /64 (one subscriber's prefix)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"source:{address[:64]}"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return f"source:{parsed.ipv4_mapped}"
        return f"source:{ipaddress.IPv6Network((parsed, 64), strict=False)}"
    return f"source:{parsed}"


def totp_associated_data(person: Person) -> bytes:
    """What a TOTP ciphertext is bound to: copied onto another row, it does not decrypt."""
    table = "operators" if isinstance(person, Operator) else "customer_users"
    return f"totp:{table}:{person.id}".encode()


def owner_columns(person: Person) -> dict[str, uuid.UUID]:
    """``{"operator_id": …}`` or ``{"customer_user_id": …}`` for rows a person owns."""
    if isinstance(person, Operator):
        return {"operator_id": person.id}
    return {"customer_user_id": person.id}


def throttle_state(row: LoginThrottle) -> ThrottleState:
    """The pure :mod:`libs.security.throttle` state of a stored throttle row."""
    return ThrottleState(
        failures=row.failures,
        last_failure_at=row.last_failure_at.timestamp() if row.last_failure_at else None,
        locked_until=row.locked_until.timestamp() if row.locked_until else None,
    )


def store_throttle(row: LoginThrottle, state: ThrottleState) -> None:
    """Write ``state`` into the throttle row."""
    row.failures = state.failures
    row.last_failure_at = (
        datetime.fromtimestamp(state.last_failure_at, UTC)
        if state.last_failure_at is not None
        else None
    )
    row.locked_until = (
        datetime.fromtimestamp(state.locked_until, UTC) if state.locked_until is not None else None
    )
