"""Identity for the login-bearing APIs (switch_api, customer_api), framework-free.

Logins with throttling and TOTP, rotating sessions, API keys, rights per area, the audit log
and security events: the logic both APIs share, built on :mod:`libs.security`'s primitives and
:mod:`libs.db`'s models. Services here raise :mod:`libs.errors` exceptions; the FastAPI glue is
in :mod:`libs.web.auth` and :mod:`libs.web.identity`.

============  ==================================================================
module        what it does
============  ==================================================================
context       :class:`IdentityContext`: key rings, policies, clock, events
auth          :class:`AuthService`: login, refresh, logout, per-request principals
accounts      :class:`AccountService`: password change, TOTP, recovery codes; people
api_keys      :class:`ApiKeyService`: create, list, revoke
audit         :func:`audit.attach` (every ORM write), :func:`audit.record`
permissions   areas, access levels, built-in and customer roles
principal     :class:`Principal`, :class:`Actor`, :class:`Restriction`
events        security events on NATS, never failing a request
repositories  all of identity's SQL
============  ==================================================================
"""

from libs.identity.accounts import (
    AccountService,
    NewPerson,
    TotpEnrolment,
    create_customer_user,
    create_operator,
    ensure_builtin_roles,
)
from libs.identity.api_keys import ApiKeyService, CreatedApiKey
from libs.identity.auth import (
    API_KEY_PREFIX,
    REFRESH_PREFIX,
    AuthService,
    IssuedTokens,
    LoginAttempt,
)
from libs.identity.context import IdentityContext
from libs.identity.events import BusSecurityEvents, NoSecurityEvents, SecurityEvents
from libs.identity.permissions import Access, Area, CustomerRole
from libs.identity.principal import Actor, ActorKind, Principal, Restriction

__all__ = [
    "API_KEY_PREFIX",
    "REFRESH_PREFIX",
    "Access",
    "AccountService",
    "Actor",
    "ActorKind",
    "ApiKeyService",
    "Area",
    "AuthService",
    "BusSecurityEvents",
    "CreatedApiKey",
    "CustomerRole",
    "IdentityContext",
    "IssuedTokens",
    "LoginAttempt",
    "NewPerson",
    "NoSecurityEvents",
    "Principal",
    "Restriction",
    "SecurityEvents",
    "TotpEnrolment",
    "create_customer_user",
    "create_operator",
    "ensure_builtin_roles",
]
