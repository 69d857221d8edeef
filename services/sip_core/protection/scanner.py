"""Known SIP scanner fingerprints (User-Agent / Server values of common attack tools).

SIPVicious (``friendly-scanner``, ``sipvicious``, ``sipcli``), ``sundayddr``, ``VaxSIPUserAgent``,
``iWar``, ``sip-scan``, ``SIVuS``, ``pplsip``, ``sipsak`` and the network scanners that probe
SIP (``Nmap NSE``, ``masscan``, ``zgrab``): a request carrying one is not a customer's
equipment. Generic SDK strings that real softphones also send are deliberately not listed.
Matching is a case-insensitive substring test on the first ``MAX_CHECKED`` characters, so a
padded or decorated value still matches.
"""

from __future__ import annotations

import re

__all__ = ["SCANNER_FINGERPRINTS", "scanner_fingerprint"]

SCANNER_FINGERPRINTS: tuple[str, ...] = (
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "sip-scan",
    "sipscan",
    "sundayddr",
    "vaxsipuseragent",
    "iwar",
    "sivus",
    "pplsip",
    "sipsak",
    "nmap",
    "masscan",
    "zgrab",
)

MAX_CHECKED = 256

_PATTERN = re.compile("|".join(re.escape(f) for f in SCANNER_FINGERPRINTS), re.IGNORECASE)


def scanner_fingerprint(user_agent: str | None) -> str | None:
    """The fingerprint ``user_agent`` matches, lower-case, or ``None``."""
    if not user_agent:
        return None
    match = _PATTERN.search(user_agent, 0, MAX_CHECKED)
    return match.group(0).lower() if match else None
