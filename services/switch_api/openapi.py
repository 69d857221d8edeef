"""OpenAPI helpers: documented error responses per endpoint."""

from __future__ import annotations

from typing import Any

from libs.web.problems import error_responses


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem-details responses a protected endpoint documents (401 and 403 always)."""
    return error_responses(401, 403, *statuses)
