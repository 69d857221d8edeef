"""Security events of the SIP plane, on the ``SECURITY`` stream (subjects ``security.sip.>``).

sip_core publishes one :class:`SipAuthFailed` for every request it refuses for want of valid
credentials (an unknown source, an unknown user, a wrong password, a forged or replayed nonce,
a source outside an allow list…). The intrusion-detection worker counts them per source and per
username and turns what crosses the thresholds into automatic firewall blocks, which reach every
node as live configuration.

The event never carries a password, a digest response or a nonce: only what an operator needs
to judge the source (address, username tried, user agent, why it failed).

sip_core also reports what it saw and acted on by itself: :class:`SourceFlooded` when its flood
guard banned a source, :class:`ScannerDetected` when a request carried a known scanner's
User-Agent. The worker answers each escalation with :class:`SourceBlocked` (the automatic
firewall rule it stored and published) or, for an address it must never block (a platform node,
an authorised customer or carrier address, a trusted network), :class:`BlockWithheld`.

=================================  ===================  ==========================================
subject                            message              published by
=================================  ===================  ==========================================
``security.sip.auth_failed``       SipAuthFailed        sip_core (every refused authentication)
``security.sip.flooded``           SourceFlooded        sip_core (a source crossed the flood limit)
``security.sip.scanner_detected``  ScannerDetected      sip_core (once per source and minute)
``security.source.blocked``        SourceBlocked        the IDS worker (an automatic block)
``security.source.withheld``       BlockWithheld        the IDS worker (a protected address)
=================================  ===================  ==========================================
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from libs.bus.messages import BusMessage

__all__ = [
    "BLOCK_WITHHELD_SUBJECT",
    "SCANNER_DETECTED_SUBJECT",
    "SECURITY_MESSAGES",
    "SIP_AUTH_FAILED_SUBJECT",
    "SIP_SECURITY_SUBJECTS",
    "SOURCE_BLOCKED_SUBJECT",
    "SOURCE_FLOODED_SUBJECT",
    "BlockReason",
    "BlockWithheld",
    "ScannerDetected",
    "SipAuthFailed",
    "SipAuthFailure",
    "SourceBlocked",
    "SourceFlooded",
]

SIP_AUTH_FAILED_SUBJECT = "security.sip.auth_failed"
SOURCE_FLOODED_SUBJECT = "security.sip.flooded"
SCANNER_DETECTED_SUBJECT = "security.sip.scanner_detected"
#: What the intrusion-detection worker consumes (sip_core's reports).
SIP_SECURITY_SUBJECTS = "security.sip.>"
SOURCE_BLOCKED_SUBJECT = "security.source.blocked"
BLOCK_WITHHELD_SUBJECT = "security.source.withheld"

SipAuthFailure = Literal[
    "unknown_source",  # no IP authentication entry matches and no credentials were offered
    "unknown_user",  # credentials for a username that does not exist (in this realm)
    "bad_credentials",  # the digest response does not match the stored HA1
    "invalid_nonce",  # a nonce we never issued, or one already used (a replay)
    "source_not_allowed",  # valid credentials from outside the user's or customer's ranges
    "account_inactive",  # the customer is suspended or closed
    "malformed",  # an Authorization header that cannot be parsed
]
"""Why a request was refused authentication."""


class SipAuthFailed(BusMessage):
    """sip_core refused a SIP request authentication (every refusal, on every node)."""

    event_id: Annotated[str, Field(min_length=1, description="Unique id; the JetStream msg id.")]
    at: Annotated[AwareDatetime, Field(description="When the request was refused.")]
    node_id: str
    zone: str
    source_address: Annotated[str, Field(description="The request's source IP (no port).")]
    source_port: Annotated[int, Field(ge=0, le=65535)]
    transport: Annotated[str, Field(description="udp, tcp or tls.")]
    method: Annotated[str, Field(description="INVITE, REGISTER…")]
    reason: SipAuthFailure
    username: Annotated[
        str | None,
        Field(max_length=256, description="The username the credentials named, if any."),
    ] = None
    realm: str | None = None
    customer_id: Annotated[
        str | None, Field(description="The customer the source or username belongs to, if any.")
    ] = None
    user_agent: Annotated[str | None, Field(max_length=256)] = None
    #: The response sent (401/403/407), or ``None`` when the request was dropped silently.
    sip_status: Annotated[int, Field(ge=100, le=699)] | None = None


class SourceFlooded(BusMessage):
    """sip_core's flood guard banned a source: it sent more than ``limit`` new requests
    (INVITE, REGISTER, OPTIONS…, malformed messages and failed authentications) within
    ``window_seconds``; the node ignores it for ``ban_seconds``."""

    event_id: Annotated[str, Field(min_length=1, description="Unique id; the JetStream msg id.")]
    at: AwareDatetime
    node_id: str
    zone: str
    source_address: Annotated[str, Field(description="The source IP (no port).")]
    requests: Annotated[int, Field(ge=0, description="Requests counted in the window.")]
    limit: Annotated[int, Field(ge=1)]
    window_seconds: Annotated[float, Field(gt=0)]
    ban_seconds: Annotated[float, Field(ge=0)]


class ScannerDetected(BusMessage):
    """A request carried a known SIP scanner's User-Agent (sip_core dropped it unanswered)."""

    event_id: Annotated[str, Field(min_length=1, description="Unique id; the JetStream msg id.")]
    at: AwareDatetime
    node_id: str
    zone: str
    source_address: Annotated[str, Field(description="The source IP (no port).")]
    source_port: Annotated[int, Field(ge=0, le=65535)]
    transport: Annotated[str, Field(description="udp, tcp or tls.")]
    method: str
    fingerprint: Annotated[str, Field(description="The scanner signature matched.")]
    user_agent: Annotated[str, Field(max_length=256)]
    #: User part of the To URI (what a sweep enumerates), if any.
    to_user: Annotated[str | None, Field(max_length=256)] = None


BlockReason = Literal[
    "auth_failures",  # too many failed authentications from one source
    "username_attack",  # too many failed authentications against one username
    "username_enumeration",  # too many distinct usernames tried from one source
    "scanner",  # a known scanner User-Agent
    "flood",  # a sip_core flood guard banned the source
]
"""Why the intrusion-detection worker escalated a source."""


class SourceBlocked(BusMessage):
    """The intrusion-detection worker blocked a source with an automatic firewall rule; every
    sip_core drops it from the moment the rule reaches it (within a second)."""

    event_id: Annotated[str, Field(min_length=1, description="Unique id; the JetStream msg id.")]
    at: AwareDatetime
    rule_id: Annotated[str, Field(description="The firewall rule (switch_api).")]
    network: str
    reason: BlockReason
    detail: Annotated[str, Field(max_length=2000, description="The rule's reason text.")]
    offence: Annotated[int, Field(ge=1, description="How many times it has been blocked.")]
    expires_at: AwareDatetime
    evidence: dict[str, object] = Field(default_factory=dict)


class BlockWithheld(BusMessage):
    """A source crossed a threshold but is never blocked automatically (a platform node, an
    authorised customer or carrier address, a trusted or allowed network): an operator looks."""

    event_id: Annotated[str, Field(min_length=1, description="Unique id; the JetStream msg id.")]
    at: AwareDatetime
    source_address: str
    reason: BlockReason
    protected_by: Annotated[
        str, Field(description="platform_node, ipauth, firewall_trusted, firewall_allow…")
    ]
    detail: Annotated[str, Field(max_length=2000)]
    customer_id: str | None = None
    carrier_id: str | None = None
    evidence: dict[str, object] = Field(default_factory=dict)


SECURITY_MESSAGES: tuple[type[BusMessage], ...] = (
    SipAuthFailed,
    SourceFlooded,
    ScannerDetected,
    SourceBlocked,
    BlockWithheld,
)
