"""OpenAPI helpers: documented error responses per endpoint."""

from __future__ import annotations

from typing import Any

from libs.web.problems import PROBLEM_RESPONSES, Problem

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not permitted",
    404: "No such object",
    409: "Conflicts with an existing object",
    412: "The object changed since it was read",
    429: "Too many requests (see Retry-After)",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem-details responses an endpoint documents, besides 422 and 500."""
    responses = dict(PROBLEM_RESPONSES)
    for code in statuses:
        responses[code] = {
            "model": Problem,
            "description": _DESCRIPTIONS[code],
            "content": {"application/problem+json": {}},
        }
    return responses
