"""Source-address allow lists (IPv4 and IPv6 addresses and CIDR networks).

**An empty list means "no restriction": every address is allowed.** That is how an operator
says "this login, token or SIP account may be used from anywhere"; a list with at least one
entry allows only the addresses it covers. To allow nothing, disable the credential instead.

Entries are validated strictly: ``10.0.0.0/8``, ``192.0.2.7``, ``2001:db8::/32``, ``::1``.
Refused, with :class:`InvalidNetwork` naming the entry's position: host bits set under the mask
(``10.0.0.1/8``: did you mean ``10.0.0.0/8`` or ``10.0.0.1/32``?), IPv4 octets with leading
zeros, zone ids (``fe80::1%eth0``), surrounding spaces, hostnames, empty strings.

An IPv4-mapped IPv6 source (``::ffff:192.0.2.7``, as a dual-stack socket reports IPv4 peers)
is matched as the IPv4 address it carries.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Self

from libs.security.errors import InvalidNetwork

__all__ = ["AddressAcl", "IPAddress", "IPNetwork", "parse_address", "parse_network"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAX_ENTRY_CHARS = 64  # longer than any IPv6 CIDR written out in full (43 characters)
_MAX_ENTRIES = 10_000


def _shown(text: str) -> str:
    return repr(text[:_MAX_ENTRY_CHARS] + ("..." if len(text) > _MAX_ENTRY_CHARS else ""))


def _plain(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise InvalidNetwork(f"{what} must be a string")
    if not text or len(text) > _MAX_ENTRY_CHARS or text.strip() != text or "%" in text:
        raise InvalidNetwork(f"{what} {_shown(text)} is not an IP address or CIDR network")
    return text


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_network(entry: str) -> IPNetwork:
    """Parse one allow-list entry: an address (a /32 or /128) or a CIDR network without host bits.

    IPv4-mapped IPv6 networks of /96 and longer are turned into the IPv4 network they map.
    """
    text = _plain(entry, "entry")
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise InvalidNetwork(
            f"entry {_shown(text)} is not an IP address or CIDR network without host bits"
        ) from None
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def parse_address(address: str | IPAddress) -> IPAddress:
    """Parse a source address (no CIDR); IPv4-mapped IPv6 becomes the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return _unmapped(address)
    text = _plain(address, "address")
    try:
        return _unmapped(ipaddress.ip_address(text))
    except ValueError:
        raise InvalidNetwork(f"address {_shown(text)} is not an IP address") from None


class AddressAcl:
    """An immutable allow list. Build it with :meth:`parse`; ask it with :meth:`allows`."""

    __slots__ = ("_v4", "_v6")

    def __init__(self, networks: Iterable[IPNetwork] = ()) -> None:
        v4: list[ipaddress.IPv4Network] = []
        v6: list[ipaddress.IPv6Network] = []
        for network in networks:
            if isinstance(network, ipaddress.IPv4Network):
                v4.append(network)
            elif isinstance(network, ipaddress.IPv6Network):
                v6.append(network)
            else:
                raise InvalidNetwork("AddressAcl takes IPv4Network and IPv6Network objects")
        # Overlapping and adjacent entries merge, so a check walks the shortest list.
        self._v4 = tuple(ipaddress.collapse_addresses(v4))
        self._v6 = tuple(ipaddress.collapse_addresses(v6))

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Self:
        """Build an allow list from text entries; :class:`InvalidNetwork` on the first bad one.

        The message names the entry's zero-based position and repeats it (it is not a secret).
        """
        networks: list[IPNetwork] = []
        if isinstance(entries, str):
            raise InvalidNetwork("entries must be a list of strings, not one string")
        for index, entry in enumerate(entries):
            if index >= _MAX_ENTRIES:
                raise InvalidNetwork(f"an allow list holds at most {_MAX_ENTRIES} entries")
            try:
                networks.append(parse_network(entry))
            except InvalidNetwork as error:
                raise InvalidNetwork(f"entry {index}: {error}") from None
        return cls(networks)

    @property
    def unrestricted(self) -> bool:
        """True for the empty list, which allows every address."""
        return not self._v4 and not self._v6

    @property
    def networks(self) -> tuple[IPNetwork, ...]:
        """The (merged) networks, IPv4 first."""
        return (*self._v4, *self._v6)

    def allows(self, address: str | IPAddress) -> bool:
        """True if ``address`` is covered by an entry, or if the list is empty.

        Raises :class:`InvalidNetwork` if ``address`` is not an IP address.
        """
        parsed = parse_address(address)
        if self.unrestricted:
            return True
        if isinstance(parsed, ipaddress.IPv4Address):
            return any(parsed in network for network in self._v4)
        return any(parsed in network for network in self._v6)

    def __repr__(self) -> str:
        return f"AddressAcl({[str(network) for network in self.networks]!r})"
