"""What to do after a carrier's final response: stop, fail over to the next carrier, or succeed.

sip_core calls :func:`next_action` with the final status of an attempt. A timeout (no answer to
the INVITE within the carrier's first-reply, post-dial-delay or ring timeout, or RFC 3261 Timer B)
is reported as **408**, as RFC 3261 §8.1.3.1 prescribes for a client transaction timeout.

A carrier's own ``stop_codes`` and ``failover_codes`` decide first (stop wins if a code is in
both; the model refuses that). Any other status follows these defaults:

=========  =========  =============================================================================
status     action     why
=========  =========  =============================================================================
2xx        SUCCESS    the call is answered
3xx        FAILOVER   a B2BUA does not follow a carrier's redirect to an unpriced destination
404, 410   STOP       the number does not exist; others will say the same (§21.4.5, §21.4.10)
484, 485   STOP       incomplete / ambiguous number: the caller must dial again (§21.4.22-23)
486        STOP       the callee is busy (§21.4.24): trying more carriers only rings them again
487        STOP       the request was cancelled — the caller hung up (§21.4.25)
6xx        STOP       "global failure": definitive information about the callee; RFC 3261 §16.7
                      has a proxy stop forking on a 6xx, and §21.6 says not to try elsewhere
408        FAILOVER   the carrier did not answer in time (including local timeouts)
other 4xx  FAILOVER   401/403/407 (carrier's auth or policy), 480, 488 (codecs) …: the *carrier*
                      refused, another one may not
5xx        FAILOVER   the carrier failed (§21.5: the request may be retried elsewhere)
=========  =========  =============================================================================

This is the common practice of Class-4 switches (Kamailio's ``lcr``/``drouting`` failure routes
fail over on 408 and 5xx; carriers' interconnect agreements treat 404/486/487/6xx as final).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from libs.routing.errors import InvalidStatus

if TYPE_CHECKING:
    from libs.routing.model import Carrier

__all__ = ["DEFAULT_STOP_CODES", "FailoverAction", "next_action"]

#: Final responses that end routing unless a carrier's configuration says otherwise (plus 6xx).
DEFAULT_STOP_CODES = frozenset({404, 410, 484, 485, 486, 487})


class FailoverAction(StrEnum):
    """What sip_core does after an attempt's final response."""

    SUCCESS = "success"
    FAILOVER = "failover"
    STOP = "stop"


def next_action(sip_status: int, carrier: Carrier | None = None) -> FailoverAction:
    """The action for a final ``sip_status`` (408 for a timeout) from ``carrier``'s attempt.

    Raises :class:`InvalidStatus` for a provisional (1xx) or out-of-range status: only a final
    response ends an attempt.
    """
    if type(sip_status) is not int or not 200 <= sip_status <= 699:
        raise InvalidStatus(f"not a final SIP status: {sip_status!r}")
    if sip_status < 300:
        return FailoverAction.SUCCESS
    if carrier is not None:
        if sip_status in carrier.stop_codes:
            return FailoverAction.STOP
        if sip_status in carrier.failover_codes:
            return FailoverAction.FAILOVER
    if sip_status >= 600 or sip_status in DEFAULT_STOP_CODES:
        return FailoverAction.STOP
    return FailoverAction.FAILOVER
