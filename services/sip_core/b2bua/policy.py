"""What the B2BUA asks before and after a call: may it proceed, and where does it go.

The call logic (``calls.py``) knows SIP; a :class:`CallPolicy` knows the operator's rules:
authentication, limits, number rewriting, balance and least-cost routing. It answers each new
INVITE with an :class:`Admission` (the ordered targets to try) or a :class:`Refusal` (the SIP
status to answer), and is told when an admitted call ends, so whatever it reserved (channels,
CPS tokens) is released exactly once whatever way the call ends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

from libs.bus.cdr import ReleaseReason
from services.sip_core.sip import Peer, Request
from services.sip_core.sip.digest_client import DigestCredentials

__all__ = [
    "Admission",
    "AttemptPolicy",
    "CallPolicy",
    "MediaPlan",
    "Rating",
    "Refusal",
    "StaticRoutePolicy",
    "Target",
]

#: Final responses after which the next carrier is tried (when the policy names none).
DEFAULT_FAILOVER_CODES = frozenset({408, 480, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Target:
    """One place to try the call: a carrier gateway."""

    peer: Peer
    #: The Request-URI of the outgoing INVITE.
    uri: str
    carrier_id: uuid.UUID | None = None
    #: Seconds to wait for any reply to our INVITE before trying the next target.
    first_reply_timeout: float = 5.0
    #: Seconds to wait from the first reply for the answer.
    ring_timeout: float = 120.0
    #: Seconds from our INVITE to a ringing/progress (18x) or final reply; ``None``: no limit
    #: beyond ``ring_timeout``.
    post_dial_delay: float | None = None
    failover_codes: frozenset[int] = DEFAULT_FAILOVER_CODES
    #: The buy rate matched for this carrier (into the CDR's attempt).
    buy_card_id: uuid.UUID | None = None
    buy_prefix: str | None = None
    buy_rate: Decimal | None = None
    #: What answers the carrier's 401/407 to our INVITE (its egress entry's username and
    #: decrypted password); ``None``: a challenge is a failed attempt like any final failure.
    credentials: DigestCredentials | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Rating:
    """The sell side of a routed call, copied into its CDR so billing rates what was matched."""

    route_id: uuid.UUID | None = None
    sell_card_id: uuid.UUID | None = None
    sell_prefix: str | None = None
    destination: str | None = None
    sell_rate: Decimal | None = None
    connection_fee: Decimal | None = None
    initial_increment: int | None = None
    subsequent_increment: int | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class MediaPlan:
    """Where the call's media flows (issue 6: rtp_relay anchoring)."""

    #: ``relay``: through the least-loaded rtp_relay of ``zone``; ``direct``: SDP untouched.
    mode: Literal["relay", "direct"] = "direct"
    #: The relay zone; ``None``: the zone of the sip_core node handling the call.
    zone: str | None = None
    #: With no relay able to engage: refuse the call (strict) or fall back to direct (relaxed).
    strict: bool = False


@dataclass(slots=True)
class Admission:
    targets: list[Target]
    caller: str
    callee: str
    customer_id: uuid.UUID | None = None
    #: Longest talk time in seconds (balance, route or customer cap); ``None``: no cap.
    max_duration: float | None = None
    #: How the caller was recognised (``ip`` or ``digest``) and by which entry / SIP user.
    auth_method: str | None = None
    ipauth_id: uuid.UUID | None = None
    sip_user_id: uuid.UUID | None = None
    rating: Rating = Rating()
    media: MediaPlan = MediaPlan()
    #: Anything the policy keeps to release the call (limit counters…).
    context: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    reason: ReleaseReason
    #: Extra response headers (e.g. a ``Proxy-Authenticate`` challenge).
    headers: tuple[tuple[str, str], ...] = ()


class CallPolicy(Protocol):
    def admit(self, request: Request, source: Peer) -> Admission | Refusal:
        """Decide on a new INVITE from ``source``."""

    def release(self, admission: Admission) -> None:
        """An admitted call has ended (called exactly once per admission)."""


class AttemptPolicy(CallPolicy, Protocol):
    """A policy that also takes per-attempt resources (carrier and gateway limits).

    The B2BUA calls :meth:`begin_attempt` before sending each target its INVITE; a
    :class:`Refusal` skips that target (e.g. a carrier at its channel limit). What an attempt
    took is the policy's to give back at the next ``begin_attempt`` or at ``release``.
    """

    def begin_attempt(self, admission: Admission, target: Target) -> Refusal | None: ...


class StaticRoutePolicy:
    """Every call to one next hop, unchanged numbers: the embedded platform's default route
    and the benchmark's baseline (the same set-up peerbench used for other B2BUAs)."""

    def __init__(self, next_hop: Peer, media: MediaPlan = MediaPlan()) -> None:
        self.next_hop = next_hop
        self.media = media

    def admit(self, request: Request, source: Peer) -> Admission | Refusal:
        uri = request.request_uri
        callee = getattr(uri, "user", None) or ""
        caller = getattr(request.from_.uri, "user", None) or ""
        hop = self.next_hop
        return Admission(
            targets=[Target(hop, f"sip:{callee}@{hop.host}:{hop.port}")],
            caller=caller,
            callee=callee,
            media=self.media,
        )

    def release(self, admission: Admission) -> None:
        return None
