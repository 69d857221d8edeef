"""Firewall blocks that hit a customer's own authorised addresses ("your address was
blocked"), automatic or manual: what switch_api shows the operator about a customer and
customer_api shows the customer.

A block hits the customer when its network overlaps one of the customer's IP authentication
addresses or source ranges (FQDN entries never match). :class:`BlockHit` carries the rule and
the customer's own networks it overlaps — never another account's.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime

from libs.accounts.queries import AccountQueries
from libs.db.models import FirewallRule

__all__ = ["BlockHit", "blocks_hitting_customer"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class BlockHit:
    """A block rule, and the customer's own networks (as stored) it overlaps."""

    rule: FirewallRule
    addresses: tuple[str, ...]


async def blocks_hitting_customer(
    queries: AccountQueries, customer_id: uuid.UUID, *, active_at: datetime | None
) -> list[BlockHit]:
    """Block rules overlapping the customer's authorised addresses, newest first; only those
    not expired at ``active_at`` (``None``: expired ones too, kept as history)."""
    sources = [
        (text, network)
        for text in await queries.customer_sources(customer_id)
        if (network := _network(text)) is not None
    ]
    if not sources:
        return []
    hits = []
    for rule in await queries.blocks(active_at):
        blocked = _network(rule.network)
        if blocked is None:
            continue
        mine = tuple(text for text, source in sources if _overlaps(blocked, source))
        if mine:
            hits.append(BlockHit(rule, tuple(dict.fromkeys(mine))))
    return sorted(hits, key=lambda hit: hit.rule.created_at, reverse=True)


def _network(text: str) -> Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None  # an FQDN (egress entries)


def _overlaps(a: Network, b: Network) -> bool:
    return a.version == b.version and a.overlaps(b)
