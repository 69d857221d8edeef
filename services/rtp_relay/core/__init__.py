"""The relay's sans-I/O core: port pairs, media sessions, latching, RTP statistics, MOS.

Nothing here touches a socket, a clock, the event loop or NATS: every function that depends on
time takes ``now`` (seconds, monotonic) from its caller, so the tests drive it with a fake clock.
The asyncio adapter (:mod:`services.rtp_relay.udp`) owns the sockets and calls into this core from
``datagram_received``; the NATS control (:mod:`services.rtp_relay.control`) turns its reports
into bus messages.
"""

from services.rtp_relay.core.ports import PortPool
from services.rtp_relay.core.quality import mos_from_r, r_factor
from services.rtp_relay.core.session import (
    Endpoint,
    Expiry,
    Leg,
    MediaSession,
    MediaTable,
    PeerAddress,
    Refusal,
    Refused,
    RtcpEndpoint,
    RtpEndpoint,
    SessionReport,
    StreamReport,
)

__all__ = [
    "Endpoint",
    "Expiry",
    "Leg",
    "MediaSession",
    "MediaTable",
    "PeerAddress",
    "PortPool",
    "Refusal",
    "Refused",
    "RtcpEndpoint",
    "RtpEndpoint",
    "SessionReport",
    "StreamReport",
    "mos_from_r",
    "r_factor",
]
