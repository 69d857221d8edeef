"""Serving an ASGI app with uvicorn inside a service's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from libs.config import HttpSettings

__all__ = ["TLS_CIPHERS", "http_server", "run_until_signalled", "serve", "tls_hardened"]

#: TLS 1.2 cipher suites: forward secrecy (ECDHE) and AEAD only, as Mozilla's "intermediate"
#: profile. TLS 1.3's suites are all acceptable and are not affected by this string.
TLS_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)


def tls_hardened(context: ssl.SSLContext) -> ssl.SSLContext:
    """Refuse SSL 3, TLS 1.0 and 1.1 whatever the system's OpenSSL defaults say; no compression,
    no renegotiation, the server's cipher order."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    return context


def _tls_context(_: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    return tls_hardened(default())


def http_server(app: Any, http: HttpSettings, *, lifespan: str = "on") -> uvicorn.Server:
    """A uvicorn server for ``app`` (uvloop + httptools when installed; TLS 1.2+ if configured).

    With ``tls_cert_file`` and ``tls_key_file`` set the server speaks HTTPS only, TLS 1.2 and
    1.3 with forward-secret AEAD suites (:func:`tls_hardened`). ``X-Forwarded-*`` headers are
    handled by the app (``build_app(trusted_proxies=…)``), not here, so tests see the same rules.
    Logging goes through :func:`libs.telemetry.configure_logging` (``log_config=None``);
    uvicorn's own access log is off because :class:`RequestContextMiddleware` logs each request.
    """
    tls: dict[str, Any] = {}
    if http.tls_cert_file and http.tls_key_file:
        tls = {
            "ssl_certfile": str(http.tls_cert_file),
            "ssl_keyfile": str(http.tls_key_file),
            "ssl_ciphers": TLS_CIPHERS,
            "ssl_context_factory": _tls_context,
        }
    config = uvicorn.Config(
        app,
        host=http.host,
        port=http.port,
        log_config=None,
        access_log=False,
        lifespan=lifespan,  # type: ignore[arg-type]
        proxy_headers=False,
        server_header=False,
        **tls,
    )
    return uvicorn.Server(config)


async def run_until_signalled(
    main: Callable[[asyncio.Event], Awaitable[None]],
) -> None:
    """Run ``main(stop)`` where ``stop`` is set on SIGINT or SIGTERM (graceful shutdown)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await main(stop)


def serve(service: str, settings: Any, create_app: Callable[[Any], Any]) -> None:
    """Configure logging and serve ``create_app(settings)`` until SIGINT/SIGTERM.

    ``settings`` is the service's :class:`libs.config.ServiceSettings` with an ``http`` part.
    """
    from libs.telemetry import configure_logging

    configure_logging(service=service, level=settings.log_level, json=settings.json_logs)
    http_server(create_app(settings), settings.http).run()
