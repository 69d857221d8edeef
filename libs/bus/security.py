"""Security events of the SIP plane, on the ``SECURITY`` stream (subjects ``security.sip.>``).

sip_core publishes one :class:`SipAuthFailed` for every request it refuses for want of valid
credentials (an unknown source, an unknown user, a wrong password, a forged or replayed nonce,
a source outside an allow list…). The intrusion-detection worker counts them per source and per
username and turns what crosses the thresholds into automatic firewall blocks, which reach every
node as live configuration.

The event never carries a password, a digest response or a nonce: only what an operator needs
to judge the source (address, username tried, user agent, why it failed).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from libs.bus.messages import BusMessage

__all__ = [
    "SECURITY_MESSAGES",
    "SIP_AUTH_FAILED_SUBJECT",
    "SipAuthFailed",
    "SipAuthFailure",
]

SIP_AUTH_FAILED_SUBJECT = "security.sip.auth_failed"

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


SECURITY_MESSAGES: tuple[type[BusMessage], ...] = (SipAuthFailed,)
