"""Serving an ASGI app with uvicorn inside a service's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from libs.config import HttpSettings

__all__ = ["http_server", "run_until_signalled", "serve"]


def http_server(app: Any, http: HttpSettings, *, lifespan: str = "on") -> uvicorn.Server:
    """A uvicorn server for ``app`` (uvloop + httptools when installed; TLS 1.2+ if configured).

    Logging goes through :func:`libs.telemetry.configure_logging` (``log_config=None``);
    uvicorn's own access log is off because :class:`RequestContextMiddleware` logs each request.
    """
    tls: dict[str, Any] = {}
    if http.tls_cert_file and http.tls_key_file:
        tls = {"ssl_certfile": str(http.tls_cert_file), "ssl_keyfile": str(http.tls_key_file)}
    config = uvicorn.Config(
        app,
        host=http.host,
        port=http.port,
        log_config=None,
        access_log=False,
        lifespan=lifespan,  # type: ignore[arg-type]
        proxy_headers=bool(http.trusted_proxies),
        forwarded_allow_ips=http.trusted_proxies or None,
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
