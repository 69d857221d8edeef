"""sip_core's configuration-driven call policy (issue 5, "Call processing" steps 1-7).

==========  ========================================================================
module      what it does
==========  ========================================================================
cidr        ``CidrIndex``: longest-prefix match of IPv4/IPv6 addresses over networks
identify    ``IpAuthIndex``: who a source address is (tech prefix / CLI authentication)
digest      ``NonceService`` and ``DigestAuthenticator``: RFC 7616/8760 digest, no replays
limits      ``Limiter``: channels and CPS (token buckets) per key, released exactly once
shared      ``SharedLimits``: every node's limit figures over NATS, so limits hold platform-wide
snapshot    ``PolicySnapshot``: every index built from one configuration state
live        ``LivePolicy``: the :class:`~services.sip_core.b2bua.policy.CallPolicy` fed by a
            :class:`~libs.liveconfig.ConfigView`, rebuilding its snapshot on change
events      ``SecurityEvents``: ``SipAuthFailed`` published off the call path
==========  ========================================================================
"""

from services.sip_core.policy.cidr import CidrIndex
from services.sip_core.policy.digest import (
    DigestAuthenticator,
    DigestOutcome,
    DigestResult,
    NonceService,
    NonceState,
)
from services.sip_core.policy.events import SecurityEvents
from services.sip_core.policy.identify import IpAuthIndex, IpMatch
from services.sip_core.policy.limits import Lease, Limiter, LimitKey, TokenBucket
from services.sip_core.policy.live import LivePolicy
from services.sip_core.policy.snapshot import PolicySnapshot

__all__ = [
    "CidrIndex",
    "DigestAuthenticator",
    "DigestOutcome",
    "DigestResult",
    "IpAuthIndex",
    "IpMatch",
    "Lease",
    "LimitKey",
    "Limiter",
    "LivePolicy",
    "NonceService",
    "NonceState",
    "PolicySnapshot",
    "SecurityEvents",
    "TokenBucket",
]
