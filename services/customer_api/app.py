"""customer_api: the operator's customers' own view (balance, CDRs, SIP users, rates).

Every route is confined to the caller's own customer account (the ``tenant`` of its token or
API key); this first slice has the customer users' logins, their TOTP and the customer's API
keys.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from libs.security import PrincipalKind
from libs.web import build_app
from libs.web.identity import api_keys_router, auth_router
from libs.web.lifespan import identity_lifespan
from services.customer_api.config import CustomerApiSettings

VERSION = "0.1.0"


def create_app(
    settings: CustomerApiSettings | None = None, *, clock: Callable[[], float] | None = None
) -> FastAPI:
    """The app; ``clock`` (Unix seconds) replaces the wall clock for logins, TOTP and tokens."""
    settings = settings or CustomerApiSettings()
    return build_app(
        title="Tandem customer API",
        version=VERSION,
        description="For the operator's customers: their balance, calls, SIP users and rates. "
        "Log in with `POST /v1/auth/login`, then send `Authorization: Bearer <access_token>`.",
        routers=[auth_router(totp_optional=True), api_keys_router()],
        lifespan=identity_lifespan(
            settings,
            settings.identity,
            service="customer_api",
            kind=PrincipalKind.CUSTOMER,
            clock=clock,
        ),
        trusted_proxies=settings.http.trusted_proxies,
        openapi_tags=[
            {"name": "auth", "description": "Logins, sessions, passwords and TOTP."},
            {"name": "api-keys", "description": "Credentials for automation."},
            {"name": "operations", "description": "Health and metrics."},
        ],
    )
