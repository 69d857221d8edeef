"""What sip_core does with each SIP message that reaches it.

The transports hand every parsed message to :meth:`SipApplication.on_request` /
:meth:`SipApplication.on_response` and send back what it returns. This first application
answers ``OPTIONS`` (RFC 3261 §11: the keep-alive and capability probe every carrier and PBX
sends) and, until call handling lands, refuses other methods with ``501 Not Implemented``
(§8.2.1), never answering an ``ACK`` (§17.2.1: it has no response).
"""

from __future__ import annotations

import secrets

from prometheus_client import Counter

from services.sip_core.sip import Request, Response, make_response

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, PRACK, REGISTER, MESSAGE"

SIP_REQUESTS = Counter(
    "tandem_sip_requests_total", "SIP requests received", ["method", "transport"]
)
SIP_DROPPED = Counter(
    "tandem_sip_dropped_total", "SIP messages dropped without an answer", ["reason"]
)

_KNOWN_METHODS = frozenset(m.strip() for m in ALLOW.split(","))


class SipApplication:
    def on_request(self, request: Request, transport: str) -> Response | None:
        """The response to send for ``request`` (``None``: send nothing)."""
        method = request.method
        SIP_REQUESTS.labels(method if method in _KNOWN_METHODS else "other", transport).inc()
        if method == "ACK":
            return None
        to_tag = None if request.to.tag else secrets.token_hex(8)
        if method == "OPTIONS":
            return make_response(
                request,
                200,
                to_tag=to_tag,
                headers=[
                    ("Allow", ALLOW),
                    ("Accept", "application/sdp"),
                    ("Supported", "replaces, timer"),
                ],
            )
        return make_response(request, 501, to_tag=to_tag)

    def on_response(self, response: Response, transport: str) -> None:
        """Responses arrive only for requests we sent; with no client transactions yet, none."""
        SIP_DROPPED.labels("stray_response").inc()
