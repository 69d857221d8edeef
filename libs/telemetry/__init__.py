"""Structured logging and correlation ids for every Tandem process.

One call, :func:`configure_logging`, sets up structlog *and* the standard library's logging (so
uvicorn's, SQLAlchemy's and nats-py's records go through the same renderer): JSON lines in
production, coloured key/value lines on a console. Context such as the request's correlation id,
the service and the node is bound with :func:`bind_context` (a contextvar: it follows the asyncio
task) and appears on every record.

Secrets never reach a log line: :func:`redact` runs last before rendering and masks the values of
keys that name credentials (``password``, ``authorization``, ``token`` …) whatever the caller
passed.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

__all__ = [
    "bind_context",
    "configure_logging",
    "correlation_id",
    "new_correlation_id",
    "redact",
]

_SECRET_KEY = re.compile(
    r"pass(word)?|secret|token|authori[sz]ation|api[_-]?key|credential|pepper|cookie|ha1|totp",
    re.IGNORECASE,
)
_REDACTED = "[redacted]"


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor masking the values of secret-looking keys (recursively in dicts)."""
    for key, value in event_dict.items():
        if key != "event" and _SECRET_KEY.search(key):
            event_dict[key] = _REDACTED
        elif isinstance(value, dict):
            event_dict[key] = redact(None, "", dict(value))
    return event_dict


def configure_logging(*, service: str, level: str = "INFO", json: bool = False) -> None:
    """Route structlog and stdlib logging through one renderer, tagged with ``service``."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        redact,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([structlog.processors.format_exc_info] if json else []),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn installs its own handlers; make its records flow through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def new_correlation_id() -> str:
    """A fresh correlation id (random, URL-safe, 32 hex characters)."""
    return uuid.uuid4().hex


def correlation_id() -> str | None:
    """The correlation id bound to the current context, if any."""
    value = structlog.contextvars.get_contextvars().get("correlation_id")
    return str(value) if value is not None else None


@contextmanager
def bind_context(**values: Any) -> Iterator[None]:
    """Bind ``values`` to every log record emitted inside the block (and its tasks)."""
    tokens = structlog.contextvars.bind_contextvars(**values)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
