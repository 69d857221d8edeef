"""Assembling a Tandem HTTP service: the same middleware, errors and health for each."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI

from libs.web.health import health_router
from libs.web.middleware import RequestContextMiddleware
from libs.web.problems import install_problem_handlers

__all__ = ["build_app"]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def build_app(
    *,
    title: str,
    version: str,
    description: str,
    routers: Iterable[APIRouter],
    lifespan: Lifespan | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
) -> FastAPI:
    """A FastAPI app with problem-details errors, correlation ids, metrics and health.

    The ``lifespan`` registers ``/readyz``'s checks in ``app.state.readiness``.
    """
    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        openapi_tags=openapi_tags,
    )
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    for router in routers:
        app.include_router(router)
    app.include_router(health_router())
    return app
