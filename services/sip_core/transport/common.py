"""What every transport does with a parsed (or unparseable) message."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from services.sip_core.b2bua.application import SIP_DROPPED, SipApplication
from services.sip_core.sip import (
    ParseError,
    Request,
    Response,
    apply_received,
    error_response,
)

_log = structlog.get_logger(__name__)

Reply = Callable[[Response], None]


def dispatch(
    app: SipApplication,
    message: Request | Response,
    source: tuple[str, int],
    transport: str,
    reply: Reply,
) -> None:
    """Hand ``message`` to the application and send its response through ``reply``."""
    if isinstance(message, Request):
        apply_received(message, source[0], source[1])
        response = app.on_request(message, transport)
        if response is not None:
            reply(response)
    else:
        app.on_response(message, transport)


def rejected(err: ParseError, source: tuple[str, int], reply: Reply) -> None:
    """Count and log a message that failed to parse, answering it where the RFC says so."""
    SIP_DROPPED.labels("malformed").inc()
    _log.debug("malformed SIP message", source=source[0], port=source[1], error=str(err))
    response = error_response(err)
    if response is not None:
        reply(response)
