"""customer_api: the operator's customers' own view (balance, CDRs, SIP users, rates).

Every route is confined to the caller's own customer account (the ``tenant`` of its token or
API key, see :mod:`services.customer_api.deps`): another account's ids are "not found", and
lists hold only the caller's rows. Writes (SIP users, IP authentication) follow switch_api's
rules (shared in :mod:`libs.accounts`), are audited as the customer user or key that made them,
and reach the switch nodes through the live configuration after their commit.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from libs.db import UnitOfWork
from libs.liveconfig import ConfigPublisher
from libs.liveconfig.models import LookupKeyConfig
from libs.security import PrincipalKind
from libs.web import build_app
from libs.web.identity import api_keys_router, auth_router
from libs.web.lifespan import identity_lifespan
from services.customer_api import (
    account,
    cdrs,
    firewall_blocks,
    ip_auth,
    ledger,
    live_calls,
    rates,
    registrations,
    sip_users,
)
from services.customer_api.account.endpoints import router as account_router
from services.customer_api.cdrs.endpoints import router as cdrs_router
from services.customer_api.config import CustomerApiSettings
from services.customer_api.firewall_blocks.endpoints import router as firewall_blocks_router
from services.customer_api.ip_auth.endpoints import router as ip_auth_router
from services.customer_api.ledger.endpoints import router as ledger_router
from services.customer_api.live_calls.endpoints import router as live_calls_router
from services.customer_api.rates.endpoints import router as rates_router
from services.customer_api.registrations.endpoints import router as registrations_router
from services.customer_api.sip_users.endpoints import router as sip_users_router

VERSION = "0.2.0"

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _with_publisher(inner: Lifespan) -> Lifespan:
    """Add the live-configuration publisher (on the identity lifespan's bus connector), and the
    API-key revocation hook that withdraws a revoked key from lookup_api after the commit (its
    ``lookupkey`` object, if the operator gave it lookup access: deleting a key that is not
    there is a no-op), as switch_api's does for keys revoked there."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            publisher = ConfigPublisher(getattr(app.state, "bus", None))
            app.state.publisher = publisher

            def withdraw(uow: UnitOfWork, key_id: uuid.UUID) -> None:
                publisher.stage(uow, delete=[(LookupKeyConfig.kind, key_id)])

            # Restored on the way out: an app whose lifespan runs again (tests) keeps one hook.
            hooks = getattr(app.state, "api_key_revoked", [])
            app.state.api_key_revoked = [*hooks, withdraw]
            try:
                yield
            finally:
                app.state.api_key_revoked = hooks

    return lifespan


def create_app(
    settings: CustomerApiSettings | None = None, *, clock: Callable[[], float] | None = None
) -> FastAPI:
    """The app; ``clock`` (Unix seconds) replaces the wall clock for logins, TOTP and tokens."""
    settings = settings or CustomerApiSettings()
    return build_app(
        title="Tandem customer API",
        version=VERSION,
        description="For the operator's customers: their balance, calls, SIP users and their "
        "registrations, rates, and firewall blocks on their addresses. "
        "Log in with `POST /v1/auth/login`, then send `Authorization: Bearer <access_token>`; "
        "automation uses API keys. Every endpoint shows and changes only your own account.",
        routers=[
            auth_router(totp_optional=True),
            api_keys_router(),
            account_router,
            sip_users_router,
            registrations_router,
            ip_auth_router,
            firewall_blocks_router,
            rates_router,
            cdrs_router,
            ledger_router,
            live_calls_router,
        ],
        lifespan=_with_publisher(
            identity_lifespan(
                settings,
                settings.identity,
                service="customer_api",
                kind=PrincipalKind.CUSTOMER,
                clock=clock,
            )
        ),
        trusted_proxies=settings.http.trusted_proxies,
        openapi_tags=[
            {"name": "auth", "description": "Logins, sessions, passwords and TOTP."},
            {"name": "api-keys", "description": "Credentials for automation."},
            {"name": "account", "description": account.__doc__},
            {"name": "sip-users", "description": sip_users.__doc__},
            {"name": "registrations", "description": registrations.__doc__},
            {"name": "ip-auth", "description": ip_auth.__doc__},
            {"name": "firewall-blocks", "description": firewall_blocks.__doc__},
            {"name": "rates", "description": rates.__doc__},
            {"name": "cdrs", "description": cdrs.__doc__},
            {"name": "ledger", "description": ledger.__doc__},
            {"name": "live-calls", "description": live_calls.__doc__},
            {"name": "operations", "description": "Health and metrics."},
        ],
    )
