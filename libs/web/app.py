"""Assembling a Tandem HTTP service: the same middleware, errors and health for each."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from libs.web.health import health_router
from libs.web.middleware import RequestContextMiddleware
from libs.web.problems import install_problem_handlers
from libs.web.security_headers import SecurityHeadersMiddleware

__all__ = ["build_app"]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class _TandemApp(FastAPI):
    """FastAPI with the security headers and proxy handling *outside* Starlette's error
    middleware, so that even a 500 carries the headers and every handler sees the real client.

    With a ``front`` the app's entry is ``front(FastAPI)`` (inside the proxy handling): the
    requests it answers skip even ``FastAPI.__call__`` (its telemetry hooks and Starlette's
    dispatch), which is most of what a lean path saves.
    """

    trusted_proxies: Sequence[str] = ()
    front: Callable[[ASGIApp], ASGIApp] | None = None
    _entry: ASGIApp | None = None

    def build_middleware_stack(self) -> ASGIApp:
        app: Any = SecurityHeadersMiddleware(super().build_middleware_stack())
        if self.trusted_proxies and self.front is None:
            # X-Forwarded-For/-Proto are believed only when the TCP peer is one of these.
            app = ProxyHeadersMiddleware(app, trusted_hosts=list(self.trusted_proxies))
        return app  # type: ignore[no-any-return]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None:
            await super().__call__(scope, receive, send)
            return
        entry = self._entry
        if entry is None:
            built: Any = self.front(partial(FastAPI.__call__, self))
            if self.trusted_proxies:
                built = ProxyHeadersMiddleware(built, trusted_hosts=list(self.trusted_proxies))
            entry = self._entry = built
        await entry(scope, receive, send)


def build_app(
    *,
    title: str,
    version: str,
    description: str,
    routers: Iterable[APIRouter],
    lifespan: Lifespan | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
    trusted_proxies: Sequence[str] = (),
    front: Callable[[ASGIApp], ASGIApp] | None = None,
) -> FastAPI:
    """A FastAPI app with problem-details errors, correlation ids, metrics, health and secure
    headers.

    The ``lifespan`` registers ``/readyz``'s checks in ``app.state.readiness``.
    ``trusted_proxies`` (addresses or CIDR networks) are the reverse proxies whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed; from anyone else they are
    ignored, so a client cannot pick the source address that allow lists and login throttles see.
    ``front`` wraps the whole app (inside the proxy handling): an ASGI app that answers some
    requests itself, bypassing FastAPI's entry, routing and middleware, and passes on the others
    (lifespan included).
    """
    app = _TandemApp(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        openapi_tags=openapi_tags,
    )
    app.trusted_proxies = tuple(trusted_proxies)
    app.front = front
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    for router in routers:
        app.include_router(router)
    app.include_router(health_router())
    return app
