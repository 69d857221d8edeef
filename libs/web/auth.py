"""Authentication and rights for FastAPI routes: every protected route declares what it needs.

A route asks for a :class:`~libs.identity.Principal` through one of three requirements::

    CustomersRead = Annotated[Principal, require(Area.CUSTOMERS, Access.READ)]

    @router.get("/v1/customers")
    async def list_customers(principal: CustomersRead, ...): ...

* :func:`require` ``(area, access)``: a full principal (a person past enrolment, or an API
  key) with at least that right;
* :func:`person`: a person's own session (not an API key), past enrolment: logout, password;
* :func:`enrolment`: a person's session even if it is restricted to enrolment (an operator
  without TOTP, a one-time password): the TOTP enrolment and password change themselves.

Credentials: ``Authorization: Bearer <access token>``, or an API key as
``Authorization: Bearer tdm_key_…`` or ``X-API-Key: tdm_key_…``. No credentials, or bad ones,
is 401; valid ones without the right is 403. Once authenticated, every write of the request is
recorded in the audit log as done by this principal (:func:`libs.identity.audit.attach`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from libs.errors import PermissionDenied, Unauthenticated
from libs.identity import API_KEY_PREFIX, AuthService, Principal, audit
from libs.identity.permissions import Access, Area
from libs.telemetry import correlation_id
from libs.web.deps import IdentityDep, SourceAddress, UnitOfWorkDep

__all__ = ["Need", "Requirement", "authenticate", "enrolment", "person", "require"]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An access token from `POST /v1/auth/login`, or an API key (`tdm_key_…`).",
)
_api_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="An API key (`tdm_key_…`), as an alternative to the Authorization header.",
)


async def authenticate(
    request: Request,
    uow: UnitOfWorkDep,
    identity: IdentityDep,
    source: SourceAddress,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """The request's principal (401 without valid credentials); starts its audit trail."""
    service = AuthService(uow, identity)
    if api_key:
        principal = await service.authenticate_api_key(api_key, source_address=source)
    elif bearer is not None and bearer.credentials.startswith(API_KEY_PREFIX + "_"):
        principal = await service.authenticate_api_key(bearer.credentials, source_address=source)
    elif bearer is not None:
        principal = await service.authenticate_access_token(
            bearer.credentials, source_address=source
        )
    else:
        raise Unauthenticated(
            "Authentication required: send 'Authorization: Bearer <token>' or 'X-API-Key'."
        )
    audit.attach(uow.session, principal.actor(correlation_id=correlation_id()))
    request.state.principal = principal
    return principal


class Need(StrEnum):
    """The kinds of requirement a route can declare."""

    AREA = "area"
    PERSON = "person"
    ENROLMENT = "enrolment"


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a route needs; a FastAPI dependency returning the :class:`Principal`.

    Tests walk ``app.routes`` and find it in each route's dependencies, so every route's
    requirement is discoverable.
    """

    need: Need
    area: Area | None = None
    access: Access | None = None

    async def __call__(self, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if self.need is not Need.ENROLMENT and principal.restricted:
            todo = ", ".join(sorted(r.value for r in principal.restrictions))
            raise PermissionDenied(
                f"This session may only complete its set-up first ({todo}): change the one-time "
                "password, enrol TOTP, then log in again.",
                restrictions=sorted(r.value for r in principal.restrictions),
            )
        if self.need is Need.AREA:
            assert self.area is not None
            assert self.access is not None
            if not principal.can(self.area, self.access):
                raise PermissionDenied(
                    f"This needs the {self.access.value} right on {self.area.value}.",
                    required=f"{self.area.value}:{self.access.value}",
                )
        elif principal.is_api_key:
            raise PermissionDenied("API keys cannot do this: it needs a person's session.")
        return principal


def require(area: Area, access: Access) -> Any:
    """A principal with at least ``access`` on ``area`` (use in ``Annotated[Principal, …]``)."""
    return Depends(Requirement(Need.AREA, area, access))


def person() -> Any:
    """A person's own, unrestricted session (API keys refused)."""
    return Depends(Requirement(Need.PERSON))


def enrolment() -> Any:
    """A person's session, even one restricted to enrolment (API keys refused)."""
    return Depends(Requirement(Need.ENROLMENT))
