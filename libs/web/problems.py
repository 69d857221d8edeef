"""RFC 9457 problem details: the one error envelope of every Tandem API."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.errors import PROBLEM_BASE_URI, FieldError, TandemError
from libs.telemetry import correlation_id

__all__ = [
    "PROBLEM_RESPONSES",
    "Problem",
    "error_responses",
    "install_problem_handlers",
    "problem_response",
]

_log = structlog.get_logger(__name__)
MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = Field(examples=[PROBLEM_BASE_URI + "not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No customer with id 5f0c…"])
    instance: str | None = Field(None, examples=["/v1/customers/5f0c…"])
    correlation_id: str | None = Field(None, description="Quote it when reporting a problem.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="Per-field errors: loc (path to the field), msg, type."
    )


def _problem_doc(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description, "content": {MEDIA_TYPE: {}}}


#: Responses every endpoint may give, for the OpenAPI document.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_doc("Malformed request"),
    422: _problem_doc("Validation failed"),
    500: _problem_doc("Internal error (a bug: please report its correlation id)"),
}


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Not authenticated (no, expired or invalid credentials)",
    403: "Not permitted (a right is missing, or the source address is not allowed)",
    404: "No such object",
    409: "Conflicts with an existing object",
    412: "The object changed since it was read",
    429: "Too many requests (see Retry-After)",
    503: "A dependency (NATS, the database) is unreachable; retry later",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem-details responses an endpoint documents, besides 422 and 500."""
    responses = dict(PROBLEM_RESPONSES)
    for code in statuses:
        responses[code] = _problem_doc(_DESCRIPTIONS[code])
    return responses


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE_URI + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "correlation_id": correlation_id(),
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


async def _tandem_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TandemError)
    if exc.status >= 500:
        _log.error("request failed", error=exc.detail, status=exc.status)
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        errors=list(exc.errors) or None,
        headers=exc.headers(),
        extra=exc.extra,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError([str(p) for p in error.get("loc", ())], str(error.get("msg", "")), error["type"])
        for error in exc.errors()
    ]
    summary = "; ".join(f"{'.'.join(e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in errors)
    return problem_response(
        request,
        status=422,
        slug="validation-failed",
        title="Validation Failed",
        detail=summary or "the request is invalid",
        errors=[dict(e) for e in errors],
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "HTTP Error")
    return problem_response(
        request,
        status=exc.status_code,
        slug=slug,
        title=title,
        detail=str(exc.detail),
        headers=dict(exc.headers or {}),
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unhandled error", path=request.url.path)
    return problem_response(
        request,
        status=500,
        slug="internal-error",
        title="Internal Server Error",
        detail="An unexpected error occurred; it has been logged with this correlation id.",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error the app can raise as ``application/problem+json``."""
    app.add_exception_handler(TandemError, _tandem_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
