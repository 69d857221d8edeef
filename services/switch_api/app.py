"""switch_api: the operator's administration API (source of truth: the SQL database)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from libs.security import PrincipalKind
from libs.web import build_app
from libs.web.identity import api_keys_router, auth_router
from libs.web.lifespan import identity_lifespan
from services.switch_api import (
    audit,
    billing,
    carriers,
    cdrs,
    customer_users,
    customers,
    firewall,
    ip_auth,
    live_calls,
    lockouts,
    lookup,
    nodes,
    operators,
    rate_cards,
    registrations,
    rewrite_rules,
    roles,
    routes,
    sip_users,
    zones,
)
from services.switch_api import (
    settings as global_settings,
)
from services.switch_api.audit.endpoints import router as audit_router
from services.switch_api.billing.endpoints import router as billing_router
from services.switch_api.carriers.endpoints import router as carriers_router
from services.switch_api.cdrs.endpoints import router as cdrs_router
from services.switch_api.config import SwitchApiSettings
from services.switch_api.customer_users.endpoints import router as customer_users_router
from services.switch_api.customers.endpoints import router as customers_router
from services.switch_api.firewall.endpoints import router as firewall_router
from services.switch_api.ip_auth.endpoints import router as ip_auth_router
from services.switch_api.live import live_config_lifespan
from services.switch_api.live_calls.endpoints import router as live_calls_router
from services.switch_api.lockouts.endpoints import router as lockouts_router
from services.switch_api.lookup.endpoints import router as lookup_router
from services.switch_api.lookup.usage import lookup_lifespan
from services.switch_api.nodes.endpoints import router as nodes_router
from services.switch_api.operators.endpoints import router as operators_router
from services.switch_api.rate_cards.endpoints import imports_router as rate_imports_router
from services.switch_api.rate_cards.endpoints import router as rate_cards_router
from services.switch_api.registrations.endpoints import router as registrations_router
from services.switch_api.rewrite_rules.endpoints import router as rewrite_rules_router
from services.switch_api.roles.endpoints import router as roles_router
from services.switch_api.routes.endpoints import router as routes_router
from services.switch_api.settings.endpoints import router as settings_router
from services.switch_api.sip_users.endpoints import router as sip_users_router
from services.switch_api.zones.endpoints import router as zones_router

VERSION = "0.1.0"


def create_app(
    settings: SwitchApiSettings | None = None, *, clock: Callable[[], float] | None = None
) -> FastAPI:
    """The app; ``clock`` (Unix seconds) replaces the wall clock for logins, TOTP and tokens."""
    settings = settings or SwitchApiSettings()
    return build_app(
        title="Tandem switch API",
        version=VERSION,
        description="The operator's administration API: every object of the switch. "
        "Log in with `POST /v1/auth/login` (operators must enrol TOTP), then send "
        "`Authorization: Bearer <access_token>`; automation uses API keys.",
        routers=[
            auth_router(totp_optional=False),
            api_keys_router(),
            operators_router,
            roles_router,
            customer_users_router,
            lockouts_router,
            audit_router,
            customers_router,
            zones_router,
            carriers_router,
            ip_auth_router,
            sip_users_router,
            registrations_router,
            rewrite_rules_router,
            rate_cards_router,
            rate_imports_router,
            routes_router,
            firewall_router,
            nodes_router,
            live_calls_router,
            settings_router,
            cdrs_router,
            billing_router,
            lookup_router,
        ],
        lifespan=lookup_lifespan(
            live_config_lifespan(
                identity_lifespan(
                    settings,
                    settings.identity,
                    service="switch_api",
                    kind=PrincipalKind.OPERATOR,
                    clock=clock,
                )
            )
        ),
        trusted_proxies=settings.http.trusted_proxies,
        openapi_tags=[
            {"name": "auth", "description": "Logins, sessions, passwords and TOTP."},
            {"name": "api-keys", "description": "Credentials for automation."},
            {"name": "operators", "description": operators.__doc__},
            {"name": "roles", "description": roles.__doc__},
            {"name": "customer-users", "description": customer_users.__doc__},
            {"name": "login-throttles", "description": lockouts.__doc__},
            {"name": "audit", "description": audit.__doc__},
            {"name": "customers", "description": customers.__doc__},
            {"name": "zones", "description": zones.__doc__},
            {"name": "carriers", "description": carriers.__doc__},
            {"name": "ip-auth", "description": ip_auth.__doc__},
            {"name": "sip-users", "description": sip_users.__doc__},
            {"name": "registrations", "description": registrations.__doc__},
            {"name": "rewrite-rules", "description": rewrite_rules.__doc__},
            {"name": "rate-cards", "description": rate_cards.__doc__},
            {"name": "routes", "description": routes.__doc__},
            {"name": "firewall", "description": firewall.__doc__},
            {"name": "nodes", "description": nodes.__doc__},
            {"name": "live-calls", "description": live_calls.__doc__},
            {"name": "settings", "description": global_settings.__doc__},
            {"name": "cdrs", "description": cdrs.__doc__},
            {"name": "billing", "description": billing.__doc__},
            {"name": "lookup", "description": lookup.__doc__},
            {"name": "operations", "description": "Health and metrics."},
        ],
    )
