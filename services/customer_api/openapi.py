"""OpenAPI helpers: documented error responses per endpoint."""

from __future__ import annotations

from typing import Any

from libs.web.problems import error_responses

__all__ = ["csv_response", "errors"]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem-details responses a protected endpoint documents (401 and 403 always)."""
    return error_responses(401, 403, *statuses)


def csv_response(description: str, *statuses: int) -> dict[int | str, dict[str, Any]]:
    """A streamed CSV 200, and the problem-details responses of :func:`errors`."""
    return {
        **errors(*statuses),
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": description},
    }
