"""sip_core's security plane: firewall at the door, flood protection, scanner screening.

- :mod:`.networks` — longest-prefix matching of source addresses (IPv4/IPv6).
- :mod:`.index` — :class:`SourceIndex`, the immutable classification built from configuration.
- :mod:`.flood` — :class:`FloodGuard`, per-source sliding-window counting with bans (sans-I/O).
- :mod:`.scanner` — known scanner User-Agent fingerprints.
- :mod:`.guard` — :class:`Protection`, the transports' gate (before and after parsing).
- :mod:`.live` — :class:`LiveProtection`, rebuilding the index from the live configuration.
- :mod:`.reporter` — :class:`SecurityReporter`, security events to the ``SECURITY`` stream.
"""

from services.sip_core.protection.flood import Ban, FloodGuard
from services.sip_core.protection.guard import Protection
from services.sip_core.protection.index import SourceIndex, Verdict
from services.sip_core.protection.live import KINDS, LiveProtection
from services.sip_core.protection.networks import PrefixTable
from services.sip_core.protection.reporter import SecurityReporter
from services.sip_core.protection.scanner import scanner_fingerprint

__all__ = [
    "KINDS",
    "Ban",
    "FloodGuard",
    "LiveProtection",
    "PrefixTable",
    "Protection",
    "SecurityReporter",
    "SourceIndex",
    "Verdict",
    "scanner_fingerprint",
]
