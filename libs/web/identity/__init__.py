"""The HTTP face of :mod:`libs.identity` that switch_api and customer_api both serve.

:func:`auth_router` (``/v1/auth/…``: login, refresh, logout, password, TOTP) and
:func:`api_keys_router` (``/v1/api-keys``); each API mounts them and has its own
:class:`~libs.identity.IdentityContext` (operators or customer users) in ``app.state.identity``.
"""

from libs.web.identity.api_keys import api_keys_router
from libs.web.identity.auth import PUBLIC_PATHS, auth_router

__all__ = ["PUBLIC_PATHS", "api_keys_router", "auth_router"]
