"""``/healthz`` (liveness), ``/readyz`` (dependencies reachable) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["ReadinessCheck", "health_router"]

#: An async callable that raises when its dependency is not usable.
ReadinessCheck = Callable[[], Awaitable[None]]

CHECK_TIMEOUT = 2.0


async def _run_check(check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # any failure means "not ready"; its kind is enough detail
        return f"failed: {type(exc).__name__}"
    return "ok"


def health_router() -> APIRouter:
    """Operational endpoints.

    ``/readyz`` runs the checks the app's lifespan registered in ``app.state.readiness`` (a
    mapping of name to :data:`ReadinessCheck`); until the lifespan has run there are none to
    pass, so the app is not ready.
    """
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", operation_id="healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        operation_id="readyz",
        summary="Readiness: every dependency answers (503 otherwise)",
        responses={503: {"description": "A dependency is not reachable"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        checks: Mapping[str, ReadinessCheck] | None = getattr(request.app.state, "readiness", None)
        if checks is None:
            return JSONResponse({"status": "starting", "checks": {}}, status_code=503)
        names = list(checks)
        results = await asyncio.gather(*(_run_check(checks[name]) for name in names))
        report = dict(zip(names, results, strict=True))
        ready = all(result == "ok" for result in results)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": report},
            status_code=200 if ready else 503,
        )

    @router.get(
        "/metrics",
        operation_id="metrics",
        summary="Prometheus metrics",
        response_class=Response,
        include_in_schema=False,
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
