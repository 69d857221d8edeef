"""Who is calling: IP authentication by source address, tech prefix and CLI.

The reference's IP authentication: an ``ipauth`` entry (direction ingress, owner customer)
names an address or CIDR network a customer's calls come from. Several customers may share an
address (a reseller's platform, a hosted PBX farm); they are told apart by

- **tech prefix**: the entry's ``tech_prefix`` leads the dialled number (``#123`` + number);
  it is stripped before rewriting and routing, and handed to routing (routes may select on it);
- **CLI authentication** (``cli_auth``): the customer whose routing CLI patterns (routes with a
  ``cli_pattern``) match the caller's number.

Matching, for a source address: the networks containing it are tried from the longest prefix
to the shortest; at each, the entry with the longest tech prefix leading the dialled number
wins; then an entry with CLI authentication whose customer's CLI patterns match (exactly one
customer must match); then the plain entries (no tech prefix, no CLI authentication), if they
all belong to one customer. A network where nothing decides passes to the next shorter one, so
a /32 for one customer's tech-prefixed traffic and a /24 for another's plain traffic coexist.
Port and transport of an ingress entry are not compared: a customer's source port is
ephemeral (and NAT rewrites it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import structlog

from libs.liveconfig.models import IpAuthConfig
from services.sip_core.policy.cidr import CidrIndex, network_or_none

__all__ = ["IpAuthIndex", "IpMatch"]

_log = structlog.get_logger(__name__)

#: ``cli_matches(customer_id, cli)``: whether the customer's routing CLI patterns match.
CliMatcher = Callable[[str, str], bool]


class IpMatch(NamedTuple):
    """The entry a call was authenticated by; ``dialled`` has the tech prefix stripped."""

    entry: IpAuthConfig
    customer_id: str
    tech_prefix: str
    dialled: str


def _no_cli_patterns(customer_id: str, cli: str) -> bool:
    return False


class IpAuthIndex:
    """Ingress customer ``ipauth`` entries by network (immutable; rebuilt on change)."""

    __slots__ = ("_index",)

    def __init__(self, entries: Iterable[IpAuthConfig]) -> None:
        pairs = []
        for entry in entries:
            if entry.direction != "ingress" or entry.owner != "customer":
                continue
            if entry.customer_id is None:
                continue
            network = network_or_none(entry.address)
            if network is None:
                _log.warning("ipauth entry skipped: not an address", ipauth_id=str(entry.id))
                continue
            pairs.append((network, entry))
        # Longest tech prefix first, then id: deterministic whatever the bucket's order.
        pairs.sort(key=lambda pair: (-len(pair[1].tech_prefix), str(pair[1].id)))
        self._index: CidrIndex[IpAuthConfig] = CidrIndex(pairs)

    def __len__(self) -> int:
        return len(self._index)

    def knows(self, address: str) -> bool:
        """True if some entry covers ``address`` (whatever the number dialled)."""
        return self._index.contains(address)

    def identify(
        self,
        address: str,
        dialled: str,
        cli: str,
        cli_matches: CliMatcher = _no_cli_patterns,
    ) -> IpMatch | None:
        """The entry authenticating a call from ``address`` to ``dialled`` by ``cli``."""
        for _, entries in self._index.matches(address):
            found = _decide(entries, dialled, cli, cli_matches)
            if found is not None:
                return found
        return None


def _decide(
    entries: tuple[IpAuthConfig, ...], dialled: str, cli: str, cli_matches: CliMatcher
) -> IpMatch | None:
    plain: list[IpAuthConfig] = []
    by_cli: list[IpAuthConfig] = []
    for entry in entries:  # sorted longest tech prefix first
        prefix = entry.tech_prefix
        if prefix:
            if dialled.startswith(prefix) and len(dialled) > len(prefix):
                return IpMatch(entry, str(entry.customer_id), prefix, dialled[len(prefix) :])
        elif entry.cli_auth:
            by_cli.append(entry)
        else:
            plain.append(entry)
    if by_cli:
        matched = [entry for entry in by_cli if cli_matches(str(entry.customer_id), cli)]
        if len({entry.customer_id for entry in matched}) == 1:
            entry = matched[0]
            return IpMatch(entry, str(entry.customer_id), "", dialled)
    if plain and len({entry.customer_id for entry in plain}) == 1:
        entry = plain[0]
        return IpMatch(entry, str(entry.customer_id), "", dialled)
    return None
