"""Secure headers on every response, and X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from structlog.testing import capture_logs

from libs.errors import NotFound
from libs.web import build_app
from libs.web.deps import client_address

EXPECTED = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def demo_app(trusted_proxies: tuple[str, ...] = ()) -> FastAPI:
    router = APIRouter()

    @router.get("/ok")
    async def ok(request: Request) -> dict[str, str]:
        return {"client": client_address(request), "scheme": request.url.scheme}

    @router.get("/missing")
    async def missing() -> None:
        raise NotFound("nothing here")

    @router.get("/number/{n}")
    async def number(n: int) -> int:
        return n

    @router.get("/crash")
    async def crash() -> None:
        raise RuntimeError("a bug")

    return build_app(
        title="demo",
        version="0",
        description="",
        routers=[router],
        trusted_proxies=trusted_proxies,
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=demo_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        yield client


@pytest.mark.parametrize(
    ("path", "status"),
    [("/ok", 200), ("/missing", 404), ("/nowhere", 404), ("/number/x", 422), ("/crash", 500)],
)
async def test_every_response_carries_the_secure_headers(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    with capture_logs():  # no pretty traceback rendering for the 500
        response = await client.get(path)
    assert response.status_code == status
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (path, name)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_the_docs_page_may_load_its_own_scripts(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "cdn.jsdelivr.net" in csp
    assert "frame-ancestors 'none'" in csp


async def test_x_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    app = demo_app(trusted_proxies=("10.0.0.0/8",))
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}

    async def ask(peer: str) -> dict[str, str]:
        transport = httpx.ASGITransport(app=app, client=(peer, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            body: dict[str, str] = (await client.get("/ok", headers=forwarded)).json()
            return body

    assert await ask("10.1.2.3") == {"client": "203.0.113.9", "scheme": "https"}
    assert await ask("198.51.100.4") == {"client": "198.51.100.4", "scheme": "http"}
    untrusting = demo_app()
    transport = httpx.ASGITransport(app=untrusting, client=("10.1.2.3", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        assert (await client.get("/ok", headers=forwarded)).json()["client"] == "10.1.2.3"
