"""What sip_core knows about a source before it reads a byte of its packet: the
:class:`SourceIndex`, rebuilt from the live configuration on every change and swapped in whole.

Precedence, per source address:

1. the firewall rule of the longest network containing it (``block`` / ``allow`` /
   ``trusted``; rules past their ``expires_at`` are left out, and the index says when the next
   one expires so the node rebuilds it at that instant even if switch_api is unreachable);
   a ``block`` drops everything from the source, whatever else matches;
2. exemption from flood protection: firewall ``trusted`` rules, the platform's own nodes
   (presence addresses), customers' and carriers' IP authentication entries, and the node's
   statically trusted networks;
3. otherwise the flood limit: the global setting, or the ``flood_max_requests`` override of the
   customer whose source ranges (or SIP users' allow lists) contain the address.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from libs.liveconfig.models import (
    CustomerConfig,
    FirewallConfig,
    IpAuthConfig,
    SipUserConfig,
)
from services.sip_core.protection.networks import PrefixTable, address_key

__all__ = ["BLOCKED", "PASS", "SourceIndex", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one source is treated."""

    blocked: bool = False
    #: Never counted nor banned by the flood guard.
    exempt: bool = False
    #: The flood limit for this source (``None``: the global setting).
    limit: int | None = None
    #: Why (for logs and metrics): ``firewall_block``, ``firewall_trusted``, ``ipauth``…
    why: str = ""


PASS = Verdict()
BLOCKED = Verdict(blocked=True, why="firewall_block")
_TRUSTED = Verdict(exempt=True, why="firewall_trusted")


class SourceIndex:
    """An immutable classification of source addresses (see the module docstring)."""

    __slots__ = ("exempt", "firewall", "limits", "next_expiry", "rules")

    def __init__(
        self,
        *,
        firewall: Iterable[FirewallConfig] = (),
        ipauth: Iterable[IpAuthConfig] = (),
        customers: Mapping[uuid.UUID, CustomerConfig] | None = None,
        sipusers: Iterable[SipUserConfig] = (),
        platform: Iterable[str] = (),
        trusted: Iterable[str] = (),
        now: datetime,
    ) -> None:
        live = [r for r in firewall if r.expires_at is None or r.expires_at > now]
        self.rules = len(live)
        expiries = [r.expires_at for r in live if r.expires_at is not None]
        #: When the earliest rule in the index expires (rebuild then), or ``None``.
        self.next_expiry: datetime | None = min(expiries) if expiries else None
        self.firewall: PrefixTable[Verdict] = PrefixTable(
            (
                r.network,
                BLOCKED if r.action == "block" else _TRUSTED if r.action == "trusted" else PASS,
            )
            for r in live
        )
        exempt: list[tuple[str, str]] = [(a, "trusted_network") for a in trusted]
        exempt += [(a, "platform_node") for a in platform]
        exempt += [(e.address, f"ipauth_{e.owner}") for e in ipauth]
        self.exempt: PrefixTable[str] = PrefixTable(exempt)
        customers = customers or {}
        overrides = {
            cid: c.flood_max_requests
            for cid, c in customers.items()
            if c.flood_max_requests is not None
        }
        limits: list[tuple[str, int]] = []
        for cid, limit in overrides.items():
            limits += [(n, limit) for n in customers[cid].source_ranges]
        limits += [
            (n, overrides[u.customer_id])
            for u in sipusers
            if u.customer_id in overrides
            for n in u.allowed_sources
        ]
        self.limits: PrefixTable[int] = PrefixTable(limits)

    def classify(self, host: str) -> Verdict:
        """The :class:`Verdict` for ``host`` (an IP address; anything else passes)."""
        key = address_key(host)
        if key is None:
            return PASS
        rule = self.firewall.lookup_key(key) if self.firewall else None
        if rule is not None and (rule.blocked or rule.exempt):
            return rule
        why = self.exempt.lookup_key(key) if self.exempt else None
        if why is not None:
            return Verdict(exempt=True, why=why)
        limit = self.limits.lookup_key(key) if self.limits else None
        if limit is not None:
            return Verdict(limit=limit, why="customer_limit")
        return PASS
