"""What the HTTP services share: error envelope, request context, health, pagination, serving.

This is the only library that imports FastAPI; the domain libraries (``libs.security``,
``libs.db``, ``libs.errors``) stay framework-free so the SIP and media planes can use them.
"""

from libs.web.app import build_app
from libs.web.health import ReadinessCheck, health_router
from libs.web.middleware import RequestContextMiddleware
from libs.web.pagination import Page, PageQuery
from libs.web.problems import PROBLEM_RESPONSES, Problem, install_problem_handlers
from libs.web.server import http_server, run_until_signalled

__all__ = [
    "PROBLEM_RESPONSES",
    "Page",
    "PageQuery",
    "Problem",
    "ReadinessCheck",
    "RequestContextMiddleware",
    "build_app",
    "health_router",
    "http_server",
    "install_problem_handlers",
    "run_until_signalled",
]
