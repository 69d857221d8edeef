"""Every route declares the right it needs; none is reachable without it.

The walk covers every route of both apps, so a route added later without a requirement fails
here, and one with a requirement is checked for 401 (no credentials) and 403 (credentials
without the right) on both databases.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from libs.identity.permissions import (
    CUSTOMER_ROLES,
    Access,
    Area,
    CustomerRole,
    allows,
    full,
    intersect,
    to_json,
)
from libs.web.auth import Need, Requirement
from libs.web.identity import PUBLIC_PATHS
from tests.identity.factories import (
    FakeClock,
    bearer,
    login,
    make_customer_user,
    make_operator,
    make_role,
)

OPERATIONS = {"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc"}
OPERATIONS |= {"/openapi.json"}


def requirements(route: APIRoute) -> list[Requirement]:
    found: list[Requirement] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if isinstance(dependency.call, Requirement):
            found.append(dependency.call)
        stack.extend(dependency.dependencies)
    return found


def protected_routes(app: FastAPI) -> list[tuple[str, str, Requirement]]:
    """``(method, path, requirement)`` of every route but the public ones."""
    routes: list[tuple[str, str, Requirement]] = []
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if path in OPERATIONS:
            continue
        route = context.original_route
        assert isinstance(route, APIRoute), f"{path} is not an API route"
        found = requirements(route)
        if path in PUBLIC_PATHS:
            assert not found, f"{path} is public but declares {found}"
            continue
        assert len(found) == 1, f"{route.methods} {path} declares {len(found)} requirements"
        for method in route.methods:
            routes.append((method, path, found[0]))
    return routes


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.request(method, concrete(path), headers=headers or {}, json={})


def lacking(requirement: Requirement) -> dict[Area, Access]:
    """Every right except the one ``requirement`` asks for."""
    assert requirement.area is not None
    assert requirement.access is not None
    below = Access.NONE if requirement.access is Access.READ else Access.READ
    return full({requirement.area: below}, default=Access.WRITE)


async def test_every_switch_api_route_needs_authentication_and_its_right(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> None:
    routes = protected_routes(switch_app)
    assert len(routes) > 30
    areas = {r.area for _, _, r in routes if r.need is Need.AREA}
    assert areas >= {Area.CUSTOMERS, Area.ROUTING, Area.SECURITY, Area.USERS}

    owner = await make_operator(switch_app)
    owner_headers = bearer((await login(switch, owner, clock))["access_token"])
    key = await switch.post(
        "/v1/api-keys",
        json={"name": "everything", "permissions": {area.value: "write" for area in Area}},
        headers=owner_headers,
    )
    key_headers = bearer(key.json()["key"])

    lacking_headers: dict[tuple[Area, Access], dict[str, str]] = {}
    for method, path, requirement in routes:
        unauthenticated = await call(switch, method, path)
        assert unauthenticated.status_code == 401, (method, path, unauthenticated.text)

        if requirement.need is Need.AREA:
            assert requirement.area is not None
            assert requirement.access is not None
            wanted = (requirement.area, requirement.access)
            if wanted not in lacking_headers:
                role = await make_role(switch_app, permissions=lacking(requirement))
                person = await make_operator(switch_app, role=role)
                tokens = await login(switch, person, clock)
                lacking_headers[wanted] = bearer(tokens["access_token"])
            headers = lacking_headers[wanted]
        else:
            headers = key_headers  # a full-rights API key is still not a person
        forbidden = await call(switch, method, path, headers)
        assert forbidden.status_code == 403, (method, path, forbidden.text)

        # The owner is refused by neither check (the request may still be a 404 or 422).
        if path != "/v1/auth/logout":
            allowed = await call(switch, method, path, owner_headers)
            assert allowed.status_code not in (401, 403), (method, path, allowed.text)


async def test_every_customer_api_route_needs_authentication_and_its_right(
    customer_app: FastAPI, customer: httpx.AsyncClient, clock: FakeClock
) -> None:
    from libs.db.models import CustomerUserRole

    routes = protected_routes(customer_app)
    assert {path for _, path, _ in routes} >= {"/v1/api-keys", "/v1/auth/totp/remove"}
    plain_user = await make_customer_user(customer_app, role=CustomerUserRole.USER)
    user_headers = bearer((await login(customer, plain_user, clock))["access_token"])
    admin = await make_customer_user(customer_app, role=CustomerUserRole.ADMIN)
    admin_headers = bearer((await login(customer, admin, clock))["access_token"])
    key = await customer.post(
        "/v1/api-keys",
        json={"name": "k", "permissions": {"security": "write"}},
        headers=admin_headers,
    )
    key_headers = bearer(key.json()["key"])

    # A plain user lacks the security and users rights; for the areas every customer role
    # reads or writes, an admin's API key holding every right but that one stands in.
    lacking_keys: dict[tuple[Area, Access], dict[str, str]] = {}
    for method, path, requirement in routes:
        assert (await call(customer, method, path)).status_code == 401, (method, path)
        headers = key_headers
        if requirement.need is Need.AREA:
            assert requirement.area is not None
            assert requirement.access is not None
            wanted = (requirement.area, requirement.access)
            if allows(CUSTOMER_ROLES[CustomerRole.USER], *wanted):
                if wanted not in lacking_keys:
                    rights = intersect(lacking(requirement), CUSTOMER_ROLES[CustomerRole.ADMIN])
                    made = await customer.post(
                        "/v1/api-keys",
                        json={"name": "lacking", "permissions": to_json(rights)},
                        headers=admin_headers,
                    )
                    assert made.status_code == 201, made.text
                    lacking_keys[wanted] = bearer(made.json()["key"])
                headers = lacking_keys[wanted]
            else:
                headers = user_headers
        forbidden = await call(customer, method, path, headers)
        assert forbidden.status_code == 403, (method, path, forbidden.text)


async def test_an_operator_without_totp_is_refused_everywhere_but_enrolment(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> None:
    newcomer = await make_operator(switch_app, with_totp=False)
    headers = bearer((await login(switch, newcomer, clock))["access_token"])
    reachable = []
    routes = sorted(protected_routes(switch_app), key=lambda r: r[1] == "/v1/auth/logout")
    for method, path, requirement in routes:  # logging out last
        response = await call(switch, method, path, headers)
        if requirement.need is Need.ENROLMENT:
            reachable.append(path)
            assert response.status_code != 403, (method, path)
        else:
            assert response.status_code == 403, (method, path, response.text)
    assert sorted(reachable) == [
        "/v1/auth/logout",
        "/v1/auth/me",
        "/v1/auth/password",
        "/v1/auth/totp/confirm",
        "/v1/auth/totp/enrol",
    ]


async def test_roles_cannot_escalate(
    switch_app: FastAPI, switch: httpx.AsyncClient, clock: FakeClock
) -> None:
    manager_role = await make_role(
        switch_app, permissions={Area.USERS: Access.WRITE, Area.CUSTOMERS: Access.READ}
    )
    manager = await make_operator(switch_app, role=manager_role)
    headers = bearer((await login(switch, manager, clock))["access_token"])
    roles = {r["name"]: r for r in (await switch.get("/v1/roles", headers=headers)).json()["items"]}
    assert {"owner", "admin", "read-only"} <= roles.keys()

    grab = {"name": "grab", "permissions": {"customers": "write"}}
    assert (await switch.post("/v1/roles", json=grab, headers=headers)).status_code == 403
    fine = {"name": "viewer", "permissions": {"customers": "read"}}
    created = await switch.post("/v1/roles", json=fine, headers=headers)
    assert created.status_code == 201
    make_owner = {"email": "new@carrier.example", "role_id": roles["owner"]["id"]}
    assert (await switch.post("/v1/operators", json=make_owner, headers=headers)).status_code == 403
    make_viewer = {"email": "new@carrier.example", "role_id": created.json()["id"]}
    made = await switch.post("/v1/operators", json=make_viewer, headers=headers)
    assert made.status_code == 201
    assert len(made.json()["one_time_password"]) >= 6
    assert made.json()["operator"]["must_change_password"] is True

    builtin = roles["read-only"]["id"]
    renamed = await switch.patch(f"/v1/roles/{builtin}", json={"name": "x"}, headers=headers)
    assert renamed.status_code == 403
    in_use = await switch.delete(f"/v1/roles/{manager_role}", headers=headers)
    assert in_use.status_code in (403, 409)
    own = await switch.patch(
        f"/v1/operators/{manager.id}", json={"disabled": True}, headers=headers
    )
    assert own.status_code == 403


async def test_openapi_declares_the_security_schemes_and_stable_ids(
    switch: httpx.AsyncClient, customer: httpx.AsyncClient
) -> None:
    for client in (switch, customer):
        document: dict[str, Any] = (await client.get("/openapi.json")).json()
        schemes = document["components"]["securitySchemes"]
        assert schemes["bearer"] == {
            "type": "http",
            "scheme": "bearer",
            "description": schemes["bearer"]["description"],
        }
        assert schemes["apiKey"]["in"] == "header"
        assert schemes["apiKey"]["name"] == "X-API-Key"
        login = document["paths"]["/v1/auth/login"]["post"]
        assert login["operationId"] == "auth_login"
        assert "security" not in login
        keys = document["paths"]["/v1/api-keys"]["post"]
        assert keys["operationId"] == "api_keys_create"
        assert {"bearer": []} in keys["security"]
        assert {"apiKey": []} in keys["security"]
