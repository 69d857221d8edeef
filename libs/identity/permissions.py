"""Rights: read or write access per API area, built-in roles, and the subset rule.

An operator's rights come from a role: one :class:`Access` level per :class:`Area`. The built-in
roles are ``owner`` (everything), ``admin`` (everything but managing operators, roles, API keys
and lockouts, which it may read) and ``read-only``; operators may define custom ones. An API key
carries its own rights, which must be a subset of its creator's, and is further bounded at every
request by what its owner may do then (a demoted owner's keys shrink with them).

Customer users have one of three fixed roles; their rights apply only inside their own customer
account (the ``tenant`` of their tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

__all__ = [
    "ADMIN_ROLE",
    "BUILTIN_ROLES",
    "CUSTOMER_ROLES",
    "OWNER_ROLE",
    "READ_ONLY_ROLE",
    "Access",
    "Area",
    "CustomerRole",
    "Permissions",
    "allows",
    "full",
    "intersect",
    "is_subset",
    "parse_permissions",
]


class Area(StrEnum):
    """A part of the API that rights are granted on."""

    CUSTOMERS = "customers"
    CARRIERS = "carriers"
    ROUTING = "routing"
    RATES = "rates"
    SECURITY = "security"
    BILLING = "billing"
    USERS = "users"
    CALLS = "calls"  # calls in progress: list them, hang them up


class Access(StrEnum):
    """How much of an area: nothing, reading, or reading and writing."""

    NONE = "none"
    READ = "read"
    WRITE = "write"

    @property
    def level(self) -> int:
        """0, 1 or 2: higher includes lower."""
        return _LEVELS[self]


_LEVELS = {Access.NONE: 0, Access.READ: 1, Access.WRITE: 2}

Permissions = Mapping[Area, Access]
"""One access level per area; :func:`full` fills in missing areas with ``none``."""


def full(
    permissions: Mapping[Area, Access] | None = None, default: Access = Access.NONE
) -> dict[Area, Access]:
    """Every area, with ``permissions``' level where given and ``default`` elsewhere."""
    given = dict(permissions or {})
    return {area: given.get(area, default) for area in Area}


def parse_permissions(raw: Mapping[str, Any] | None) -> dict[Area, Access]:
    """Permissions from their JSON form (``{"customers": "write"}``), unknown areas ignored.

    Raises ``ValueError`` for an access level that is not ``none``/``read``/``write``.
    """
    result = full()
    for name, value in (raw or {}).items():
        if name in Area.__members__.values():
            result[Area(name)] = Access(value)
    return result


def to_json(permissions: Permissions) -> dict[str, str]:
    """The JSON form stored in the database and shown by the API (every area, sorted)."""
    return {area.value: full(permissions)[area].value for area in Area}


def allows(permissions: Permissions, area: Area, access: Access) -> bool:
    """True if ``permissions`` grant at least ``access`` on ``area``."""
    return permissions.get(area, Access.NONE).level >= access.level


def is_subset(inner: Permissions, outer: Permissions) -> bool:
    """True if ``inner`` grants nothing that ``outer`` does not."""
    return all(allows(outer, area, level) for area, level in inner.items())


def intersect(a: Permissions, b: Permissions) -> dict[Area, Access]:
    """The rights both ``a`` and ``b`` grant."""
    fa, fb = full(a), full(b)
    return {area: min(fa[area], fb[area], key=lambda access: access.level) for area in Area}


OWNER_ROLE = "owner"
ADMIN_ROLE = "admin"
READ_ONLY_ROLE = "read-only"

BUILTIN_ROLES: dict[str, tuple[str, dict[Area, Access]]] = {
    OWNER_ROLE: (
        "Everything, including operators, roles, API keys and lockouts.",
        full(default=Access.WRITE),
    ),
    ADMIN_ROLE: (
        "Runs the switch; may read but not change operators, roles, API keys and lockouts.",
        full({Area.USERS: Access.READ, Area.SECURITY: Access.READ}, default=Access.WRITE),
    ),
    READ_ONLY_ROLE: ("Reads everything, changes nothing.", full(default=Access.READ)),
}
"""The roles every installation has: name → (description, permissions). They cannot be edited."""


class CustomerRole(StrEnum):
    """What a customer's user may do inside their own customer account."""

    ADMIN = "admin"
    USER = "user"
    READ_ONLY = "read-only"


CUSTOMER_ROLES: dict[CustomerRole, dict[Area, Access]] = {
    # The customer's own account, its SIP users and routes, API keys and portal users.
    CustomerRole.ADMIN: full(
        {
            Area.CUSTOMERS: Access.WRITE,
            Area.ROUTING: Access.WRITE,
            Area.RATES: Access.READ,
            Area.BILLING: Access.READ,
            Area.SECURITY: Access.WRITE,
            Area.USERS: Access.WRITE,
            Area.CALLS: Access.WRITE,
        }
    ),
    CustomerRole.USER: full(
        {
            Area.CUSTOMERS: Access.WRITE,
            Area.ROUTING: Access.WRITE,
            Area.RATES: Access.READ,
            Area.BILLING: Access.READ,
            Area.CALLS: Access.READ,
        }
    ),
    CustomerRole.READ_ONLY: full(
        {
            Area.CUSTOMERS: Access.READ,
            Area.ROUTING: Access.READ,
            Area.RATES: Access.READ,
            Area.BILLING: Access.READ,
            Area.CALLS: Access.READ,
        }
    ),
}
"""The rights of each customer role, inside the customer's own account."""
