"""Longest-prefix matching of source addresses against CIDR networks (IPv4 and IPv6).

A :class:`PrefixTable` is immutable: built once from ``(network, value)`` pairs when the
configuration changes, then read on every packet. A lookup converts the address to an integer
once (``inet_pton``, no ``ipaddress`` objects) and probes one dict per prefix length present in
the table, longest first — a handful of probes for any realistic rule set. IPv4-mapped IPv6
addresses (``::ffff:192.0.2.1``, what a dual-stack socket reports) match IPv4 networks.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Generic, TypeVar

__all__ = ["PrefixTable", "address_key", "parse_network"]

V = TypeVar("V")

_V4_MAPPED = 0xFFFF << 32
_V4_MAPPED_MASK = ((1 << 96) - 1) << 32
_inet_pton = socket.inet_pton
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_from_bytes = int.from_bytes


def address_key(host: str) -> tuple[int, int] | None:
    """``(4, int)`` or ``(6, int)`` for an IP address (IPv4-mapped IPv6 as IPv4); ``None`` if
    ``host`` is not an IP address (a name, garbage)."""
    try:
        return 4, _from_bytes(_inet_pton(_AF_INET, host), "big")
    except OSError:
        pass
    try:
        value = _from_bytes(_inet_pton(_AF_INET6, host.partition("%")[0]), "big")
    except (OSError, ValueError):
        return None
    if value & _V4_MAPPED_MASK == _V4_MAPPED:
        return 4, value & 0xFFFFFFFF
    return 6, value


def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """``text`` (an address or CIDR network, host bits tolerated) as a network; ``None`` if it
    is not one (an FQDN in an IP authentication entry)."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((int(mapped), network.prefixlen - 96))
    return network


class PrefixTable(Generic[V]):
    """An immutable longest-prefix-match table from networks to values.

    When two entries name the same network, the later one wins (callers order them by
    precedence). Networks that do not parse are skipped and listed in :attr:`skipped`.
    """

    __slots__ = ("_v4", "_v6", "size", "skipped")

    def __init__(self, entries: Iterable[tuple[str, V]] = ()) -> None:
        by_length: dict[int, dict[int, dict[int, V]]] = {4: {}, 6: {}}
        self.skipped: list[str] = []
        self.size = 0
        for text, value in entries:
            network = parse_network(text)
            if network is None:
                self.skipped.append(text)
                continue
            version = network.version
            table = by_length[version].setdefault(network.prefixlen, {})
            if int(network.network_address) not in table:
                self.size += 1
            table[int(network.network_address)] = value
        self._v4 = self._ordered(by_length[4], 32)
        self._v6 = self._ordered(by_length[6], 128)

    @staticmethod
    def _ordered(
        tables: dict[int, dict[int, V]], bits: int
    ) -> tuple[tuple[int, dict[int, V]], ...]:
        full = (1 << bits) - 1
        return tuple(
            ((full >> length) ^ full, tables[length]) for length in sorted(tables, reverse=True)
        )

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def lookup(self, host: str) -> V | None:
        """The value of the longest network containing ``host``, or ``None``."""
        if not self.size:
            return None
        key = address_key(host)
        if key is None:
            return None
        return self.lookup_key(key)

    def lookup_key(self, key: tuple[int, int]) -> V | None:
        version, value = key
        for mask, table in self._v4 if version == 4 else self._v6:
            found = table.get(value & mask)
            if found is not None:
                return found
        return None
