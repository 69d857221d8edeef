"""Turning an :class:`~services.switch_api.ids.detector.Escalation` into a firewall block.

The block is an ordinary firewall rule (``source: automatic``) for the single address, with the
detector's reason and evidence, stored through the same repository as operators' rules and
published as live configuration after the commit — so every sip_core drops the source within a
second, and an operator's ``DELETE /v1/firewall-rules/{id}`` unblocks it the same way.

The expiry grows for repeat offenders: the n-th automatic block of a network lasts
``base * LADDER[n-1]`` (1 h, 4 h, 24 h, then a week with the default one-hour base); ``offences``
counts them on the rule, which is kept (expired) between offences for that reason.

Never blocked automatically, only reported (:class:`Withheld`): the platform's own nodes, any
address inside an IP authentication entry (customers' and carriers' switches), and addresses
inside an ``allow`` or ``trusted`` firewall rule. An address an operator already blocks is left
alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from libs.db import UnitOfWork
from libs.db.models import FirewallAction, FirewallRule, FirewallSource
from libs.liveconfig.snapshot import firewall_config
from services.switch_api.firewall.repository import FirewallRepository
from services.switch_api.ids.detector import Escalation
from services.switch_api.live import LiveConfig

__all__ = ["LADDER", "BlockOutcome", "IdsService", "Withheld", "block_duration"]

#: Multiples of the base block time, by offence (the last one repeats).
LADDER = (1, 4, 24, 168)


def block_duration(base_seconds: int, offence: int) -> timedelta:
    """How long the ``offence``-th automatic block of a network lasts."""
    step = LADDER[min(max(offence, 1), len(LADDER)) - 1]
    return timedelta(seconds=max(1, base_seconds) * step)


@dataclass(frozen=True, slots=True)
class Withheld:
    """The source is protected: reported, not blocked."""

    protected_by: str
    customer_id: str | None = None
    carrier_id: str | None = None


@dataclass(frozen=True, slots=True)
class BlockOutcome:
    rule: FirewallRule
    #: ``False`` when the source was already blocked (nothing changed).
    created: bool


class IdsService:
    def __init__(self, uow: UnitOfWork, live: LiveConfig) -> None:
        self.uow = uow
        self.live = live
        self.rules = FirewallRepository(uow.session)

    async def protection_of(
        self, address: str, platform: Iterable[str], now: datetime
    ) -> Withheld | None:
        """Why ``address`` must never be blocked automatically, or ``None``."""
        ip = ipaddress.ip_address(address)
        if address in set(platform):
            return Withheld("platform_node")
        for entry in await self.rules.authorised_addresses():
            network = _network(entry.address)
            if network is not None and network.version == ip.version and ip in network:
                return Withheld(
                    "ipauth",
                    customer_id=str(entry.customer_id) if entry.customer_id else None,
                    carrier_id=str(entry.carrier_id) if entry.carrier_id else None,
                )
        for rule in await self.rules.active([FirewallAction.ALLOW, FirewallAction.TRUSTED], now):
            network = _network(rule.network)
            if network is not None and network.version == ip.version and ip in network:
                return Withheld(f"firewall_{rule.action.value}")
        return None

    async def block(
        self,
        escalation: Escalation,
        *,
        base_seconds: int,
        platform: Iterable[str] = (),
        now: datetime,
    ) -> BlockOutcome | Withheld:
        """Block ``escalation.source`` (or say why not); publish after the commit."""
        withheld = await self.protection_of(escalation.source, platform, now)
        if withheld is not None:
            return withheld
        ip = ipaddress.ip_address(escalation.source)
        network = f"{ip}/{ip.max_prefixlen}"
        evidence = {**escalation.evidence, "reason": escalation.reason}
        rule = await self.rules.by_network(network)
        if (
            rule is not None
            and rule.action is FirewallAction.BLOCK
            and (rule.expires_at is None or rule.expires_at > now)
        ):
            return BlockOutcome(rule, created=False)  # blocked already (by whoever)
        offence = (rule.offences if rule is not None else 0) + 1
        expires_at = now + block_duration(base_seconds, offence)
        reason = f"automatic: {escalation.detail}"[:2000]
        if rule is None:
            rule = FirewallRule(
                network=network,
                action=FirewallAction.BLOCK,
                source=FirewallSource.AUTOMATIC,
                reason=reason,
                expires_at=expires_at,
                evidence=evidence,
                offences=offence,
            )
            await self.rules.add(rule)
        else:
            rule.action = FirewallAction.BLOCK
            rule.source = FirewallSource.AUTOMATIC
            rule.reason = reason
            rule.expires_at = expires_at
            rule.evidence = evidence
            rule.offences = offence
            await self.rules.flush()
        self.live.put(self.uow, firewall_config(rule))
        self.live.schedule_changed(self.uow)
        return BlockOutcome(rule, created=True)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
