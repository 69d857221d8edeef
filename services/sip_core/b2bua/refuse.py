"""The policy of a node with no routing: every call refused, visibly."""

from __future__ import annotations

from libs.bus.cdr import ReleaseReason
from services.sip_core.b2bua.policy import Admission, Refusal
from services.sip_core.sip import Peer, Request


class NoRoutingPolicy:
    """Refuses every call with 503 until routing is configured (never a silent drop)."""

    def admit(self, request: Request, source: Peer) -> Admission | Refusal:
        return Refusal(503, ReleaseReason.NO_ROUTE)

    def release(self, admission: Admission) -> None:
        return None
