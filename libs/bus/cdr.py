"""The call detail record: what sip_core reports for every call, and billing rates.

One :class:`CallEnded` per call (answered or not) on subject :data:`CDR_SUBJECT`, stored in the
``CDR`` stream with the call's id as ``Nats-Msg-Id``, so a resend (after a timeout, or from the
spool) is stored once; billing also refuses a second CDR with the same ``call_id``. Money is
``Decimal`` (a JSON string on the wire), times are timezone-aware UTC.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.bus.messages import BusMessage

__all__ = [
    "CDR_MESSAGES",
    "CDR_SUBJECT",
    "CallAttempt",
    "CallEnded",
    "MediaLegStats",
    "ReleaseReason",
    "ReleasedBy",
]

CDR_SUBJECT = "cdr.call.ended"


class ReleaseReason(StrEnum):
    """Why the call ended (who hung up, or why the switch did)."""

    NORMAL = "normal"  # a BYE after answer (see ``released_by``)
    CANCELLED = "cancelled"  # the caller gave up before answer
    REJECTED = "rejected"  # the carriers' final answer was a failure (see ``sip_code``)
    NO_ROUTE = "no_route"
    NO_RATE = "no_rate"
    BLOCKED_DESTINATION = "blocked_destination"
    UNAUTHORISED = "unauthorised"
    LIMIT_CHANNELS = "limit_channels"
    LIMIT_CPS = "limit_cps"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    DAILY_SPEND_LIMIT = "daily_spend_limit"
    TIMEOUT = "timeout"  # no carrier answered in time
    MAX_DURATION = "max_duration"
    RTP_TIMEOUT = "rtp_timeout"
    MEDIA_UNAVAILABLE = "media_unavailable"
    PEER_UNREACHABLE = "peer_unreachable"  # in-dialog OPTIONS pings went unanswered
    OPERATOR_HANGUP = "operator_hangup"
    SWITCH_SHUTDOWN = "switch_shutdown"
    # An offer went unanswered: a late offer's 2xx answered by an ACK without SDP (the switch
    # then ACKs the offerer with a rejecting answer and BYEs both legs, RFC 3261 §13.2.2.4).
    MEDIA_NEGOTIATION_FAILED = "media_negotiation_failed"


class ReleasedBy(StrEnum):
    CALLER = "caller"
    CALLEE = "callee"
    SWITCH = "switch"


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CallAttempt(_Part):
    """One try towards one carrier gateway."""

    carrier_id: uuid.UUID
    gateway: Annotated[str, Field(description="host:port the INVITE went to")]
    started_at: AwareDatetime
    #: Post-dial delay: from our INVITE to the first 180/183 (or the final answer).
    pdd_ms: Annotated[int, Field(ge=0)] | None = None
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime
    #: The carrier's final status (None: no answer at all, e.g. a timeout).
    sip_code: Annotated[int, Field(ge=100, le=699)] | None = None
    reason: str = ""
    buy_card_id: uuid.UUID | None = None
    buy_prefix: str | None = None
    buy_rate: Decimal | None = None
    number_sent: str = ""


class MediaLegStats(_Part):
    """RTP statistics of one direction of the call, from the relay."""

    packets: Annotated[int, Field(ge=0)] = 0
    bytes: Annotated[int, Field(ge=0)] = 0
    lost: Annotated[int, Field(ge=0)] = 0
    jitter_ms: Annotated[float, Field(ge=0)] = 0.0
    mos: Annotated[float, Field(ge=1, le=5)] | None = None


class CallEnded(BusMessage):
    """A call ended: its call detail record."""

    call_id: Annotated[str, Field(min_length=1, max_length=128, description="Unique per call.")]
    sip_call_id: Annotated[str, Field(description="The Call-ID of the caller's INVITE.")]
    node_id: str
    zone: str
    source_address: Annotated[str, Field(description="ip:port the INVITE came from")]

    customer_id: uuid.UUID | None = None
    #: How the caller was recognised: ``ip`` (an IP authentication entry) or ``digest``.
    auth_method: str | None = None
    ipauth_id: uuid.UUID | None = None
    sip_user_id: uuid.UUID | None = None

    caller_received: str = ""
    callee_received: str = ""
    caller_sent: str = ""
    callee_sent: str = ""

    route_id: uuid.UUID | None = None
    sell_card_id: uuid.UUID | None = None
    sell_prefix: str | None = None
    destination: str | None = None
    sell_rate: Decimal | None = None
    connection_fee: Decimal | None = None
    #: Billing increments of the matched sell rate, in seconds (e.g. 30/6).
    initial_increment: Annotated[int, Field(ge=0)] | None = None
    subsequent_increment: Annotated[int, Field(ge=1)] | None = None
    currency: str | None = None

    started_at: AwareDatetime
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime
    #: Talk time: from answer to end, 0 for an unanswered call.
    duration_ms: Annotated[int, Field(ge=0)] = 0

    sip_code: Annotated[int, Field(ge=100, le=699)]
    sip_reason: str = ""
    release_reason: ReleaseReason
    released_by: ReleasedBy

    attempts: list[CallAttempt] = []
    media_caller: MediaLegStats | None = None
    media_callee: MediaLegStats | None = None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None


CDR_MESSAGES: tuple[type[BusMessage], ...] = (CallEnded,)
