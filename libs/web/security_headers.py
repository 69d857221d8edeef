"""Secure response headers on every response, errors and 500s included.

===========================  ============================================================
header                       why
===========================  ============================================================
Strict-Transport-Security    browsers use HTTPS only for two years (RFC 6797)
X-Content-Type-Options       no MIME sniffing of JSON into something executable
X-Frame-Options              no framing (clickjacking); CSP ``frame-ancestors`` likewise
Content-Security-Policy      API responses load nothing; the docs pages only their own UI
Referrer-Policy              URLs (which may carry ids) do not leak to other sites
Cache-Control                ``no-store``: responses may carry tokens or personal data
===========================  ============================================================

Browsers ignore HSTS received over plain HTTP (RFC 6797 §8.1), so sending it always is harmless
and right as soon as TLS (or a TLS-terminating proxy) is in front.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeadersMiddleware"]

HSTS = "max-age=63072000; includeSubDomains"
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc load their scripts and styles from a CDN and run inline code.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
    "worker-src 'self' blob:; frame-ancestors 'none'"
)
_DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeadersMiddleware:
    """Adds the headers above to each HTTP response (keeping a ``Cache-Control`` already set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(_DOCS_PATHS)
        fixed = [
            (b"strict-transport-security", HSTS.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", (DOCS_CSP if docs else API_CSP).encode()),
            (b"referrer-policy", b"no-referrer"),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in fixed if name not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
