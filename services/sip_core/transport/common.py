"""What every transport does with a message that failed to parse."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import structlog
from prometheus_client import Counter

from services.sip_core.sip import ParseError, Peer, Request, Response, error_response

_log = structlog.get_logger(__name__)

SIP_DROPPED = Counter(
    "tandem_sip_dropped_total", "SIP messages dropped without reaching a transaction", ["reason"]
)

#: Where parsed messages go (the stack's ``received``).
MessageSink = Callable[[Request | Response, Peer], None]
Reply = Callable[[Response], object]


class Gate(Protocol):
    """The security plane's hooks in the transports (``services.sip_core.protection``)."""

    def admit(self, host: str) -> bool:
        """Before parsing: may bytes from ``host`` be read at all? (firewall, flood bans)"""

    def malformed(self, host: str) -> bool:
        """A message from ``host`` failed to parse: count it; ``False``: do not answer."""

    def screen(self, message: Request | Response, peer: Peer) -> bool:
        """After parsing: count it; ``False``: drop it silently (scanner, new flood ban)."""


def rejected(
    err: ParseError, source: tuple[str, int], reply: Reply, gate: Gate | None = None
) -> None:
    """Count and log a message that failed to parse, answering it where the RFC says so.

    The answer is stateless and goes to the packet's real source: a Via we could not trust
    must not be able to aim our responses at a third party.
    """
    SIP_DROPPED.labels("malformed").inc()
    _log.debug("malformed SIP message", source=source[0], port=source[1], error=str(err))
    if gate is not None and not gate.malformed(source[0]):
        return
    response = error_response(err)
    if response is not None:
        reply(response)
