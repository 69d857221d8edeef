"""ASGI middleware shared by the API services: correlation ids and request metrics."""

from __future__ import annotations

import re
import time

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.telemetry import new_correlation_id

__all__ = ["RequestContextMiddleware"]

_log = structlog.get_logger("tandem.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

HTTP_REQUESTS = Counter(
    "tandem_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "tandem_http_request_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class RequestContextMiddleware:
    """Binds a correlation id to each request's logs and echoes it as ``X-Request-ID``.

    A caller's own ``X-Request-ID`` is kept when it looks like an id (so one id can follow a
    request through a proxy and several services); anything else is replaced. Each request is
    logged once and counted by route *template* (``/v1/customers/{customer_id}``), never by raw
    path, so metrics stay bounded whatever clients send.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), ""
        )
        request_id = supplied if _VALID_ID.match(supplied) else new_correlation_id()
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(correlation_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope["method"]
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template).observe(elapsed)
            if template not in ("/healthz", "/readyz", "/metrics"):
                _log.info(
                    "http request",
                    method=method,
                    path=scope["path"],
                    status=status,
                    ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.reset_contextvars(**tokens)
