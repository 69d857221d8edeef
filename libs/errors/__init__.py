"""The domain errors every Tandem API speaks, and their one envelope: RFC 9457 problem details.

Services raise these (they never import a web framework); ``libs.web`` renders each as
``application/problem+json``::

    {"type": "https://tandem.dev/problems/conflict", "title": "Conflict", "status": 409,
     "detail": "A zone named 'eu-west' already exists", "instance": "/v1/zones",
     "correlation_id": "…", "errors": [...]}

Exception tree::

    TandemError                      500 (only for bugs: never raised on purpose)
    ├── BadRequest                   400
    │   └── ValidationFailed         422  (with per-field ``errors``)
    ├── Unauthenticated              401
    ├── PermissionDenied             403
    ├── NotFound                     404
    ├── Conflict                     409
    ├── PreconditionFailed           412
    ├── RateLimited                  429  (with ``retry_after`` seconds)
    └── ServiceUnavailable           503
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

__all__ = [
    "PROBLEM_BASE_URI",
    "BadRequest",
    "Conflict",
    "FieldError",
    "NotFound",
    "PermissionDenied",
    "PreconditionFailed",
    "RateLimited",
    "ServiceUnavailable",
    "TandemError",
    "Unauthenticated",
    "ValidationFailed",
]

PROBLEM_BASE_URI = "https://tandem.dev/problems/"


class FieldError(dict[str, Any]):
    """One invalid field: ``{"loc": ["body", "name"], "msg": "…", "type": "…"}``."""

    def __init__(self, loc: Sequence[str | int], msg: str, type: str = "value_error") -> None:
        super().__init__(loc=list(loc), msg=msg, type=type)


class TandemError(Exception):
    """Root of every error an API turns into a problem-details response."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str, *, errors: Sequence[FieldError] = (), **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.extra = extra

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE_URI + self.slug

    def headers(self) -> dict[str, str]:
        """HTTP headers the response must carry (e.g. ``Retry-After``)."""
        return {}


class BadRequest(TandemError):
    status, slug, title = 400, "bad-request", "Bad Request"


class ValidationFailed(BadRequest):
    status, slug, title = 422, "validation-failed", "Validation Failed"


class Unauthenticated(TandemError):
    status, slug, title = 401, "unauthenticated", "Unauthenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class PermissionDenied(TandemError):
    status, slug, title = 403, "permission-denied", "Permission Denied"


class NotFound(TandemError):
    status, slug, title = 404, "not-found", "Not Found"


class Conflict(TandemError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(TandemError):
    status, slug, title = 412, "precondition-failed", "Precondition Failed"


class RateLimited(TandemError):
    status, slug, title = 429, "rate-limited", "Too Many Requests"

    def __init__(self, detail: str, *, retry_after: float, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = max(1, int(-(-retry_after // 1)))  # whole seconds, rounded up

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(TandemError):
    status, slug, title = 503, "service-unavailable", "Service Unavailable"
