"""Longest-prefix match of an IP address over IPv4 and IPv6 networks.

One dict per prefix length present, keyed by the network's integer: a lookup masks the address
once per distinct length, longest first, so it costs O(distinct lengths) dict probes whatever
the number of networks (a few µs for a typical mix of /32, /29, /24 and /16 entries). Built
once per configuration change; immutable afterwards, so readers need no lock.

IPv4-mapped IPv6 sources (``::ffff:192.0.2.7``, as a dual-stack socket reports IPv4 peers) are
matched as the IPv4 address they carry (:func:`libs.security.netacl.parse_address`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Generic, TypeVar

from libs.security.errors import InvalidNetwork
from libs.security.netacl import IPNetwork, parse_address, parse_network

__all__ = ["CidrIndex", "address_key"]

V = TypeVar("V")


@lru_cache(maxsize=65_536)
def address_key(address: str) -> tuple[int, int] | None:
    """``(version, integer)`` of a source address, ``None`` if it is not an IP address.

    Cached: a switch sees the same few thousand peers over and over.
    """
    try:
        parsed = parse_address(address)
    except InvalidNetwork:
        return None
    return parsed.version, int(parsed)


class CidrIndex(Generic[V]):
    """Immutable map from IP networks to lists of values; :meth:`lookup` finds the longest."""

    __slots__ = ("_levels", "_size")

    def __init__(self, pairs: Iterable[tuple[IPNetwork | str, V]] = ()) -> None:
        tables: dict[tuple[int, int], dict[int, list[V]]] = {}
        size = 0
        for network, value in pairs:
            net = parse_network(network) if isinstance(network, str) else network
            tables.setdefault((net.version, net.prefixlen), {}).setdefault(
                int(net.network_address), []
            ).append(value)
            size += 1
        levels: dict[int, list[tuple[int, int, dict[int, tuple[V, ...]]]]] = {4: [], 6: []}
        for (version, length), table in sorted(tables.items(), key=lambda kv: -kv[0][1]):
            bits = 32 if version == 4 else 128
            mask = ((1 << length) - 1) << (bits - length)
            frozen = {key: tuple(values) for key, values in table.items()}
            levels[version].append((length, mask, frozen))
        self._levels = {version: tuple(found) for version, found in levels.items()}
        self._size = size

    def __len__(self) -> int:
        return self._size

    def lookup(self, address: str) -> tuple[V, ...]:
        """The values of the longest network containing ``address`` (``()`` if none)."""
        for _, values in self.matches(address):
            return values
        return ()

    def matches(self, address: str) -> Iterator[tuple[int, tuple[V, ...]]]:
        """Every ``(prefix length, values)`` containing ``address``, longest first."""
        key = address_key(address)
        if key is None:
            return
        version, number = key
        for length, mask, table in self._levels[version]:
            found = table.get(number & mask)
            if found is not None:
                yield length, found

    def contains(self, address: str) -> bool:
        """True if any network covers ``address``."""
        return bool(self.lookup(address))


def network_or_none(text: str) -> IPNetwork | None:
    """``text`` as a network (an address is a /32 or /128), ``None`` for a host name."""
    try:
        return parse_network(text)
    except InvalidNetwork:
        try:  # host bits set ("10.0.0.1/8"): the operator meant the network
            return ipaddress.ip_network(text, strict=False)
        except ValueError:
            return None
