"""Source-address allow lists."""

from __future__ import annotations

import contextlib
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.security import AddressAcl, InvalidNetwork, SecurityError


def test_empty_list_means_no_restriction() -> None:
    acl = AddressAcl.parse([])
    assert acl.unrestricted
    assert acl.allows("203.0.113.9")
    assert acl.allows("2001:db8::1")


def test_ipv4_networks_and_single_addresses() -> None:
    acl = AddressAcl.parse(["10.0.0.0/8", "192.0.2.7"])
    assert not acl.unrestricted
    assert acl.allows("10.255.1.2")
    assert acl.allows("192.0.2.7")
    assert not acl.allows("192.0.2.8")
    assert not acl.allows("11.0.0.1")
    assert not acl.allows("2001:db8::1")


def test_ipv6_networks_and_single_addresses() -> None:
    acl = AddressAcl.parse(["2001:db8::/32", "::1"])
    assert acl.allows("2001:db8:ffff::5")
    assert acl.allows("::1")
    assert acl.allows(ipaddress.IPv6Address("2001:db8::1"))
    assert not acl.allows("2001:db9::1")
    assert not acl.allows("10.0.0.1")


def test_ipv4_mapped_ipv6_sources_match_ipv4_entries() -> None:
    acl = AddressAcl.parse(["192.0.2.0/24"])
    assert acl.allows("::ffff:192.0.2.10")
    assert not acl.allows("::ffff:198.51.100.1")
    assert AddressAcl.parse(["::ffff:192.0.2.0/120"]).allows("192.0.2.200")


def test_overlapping_entries_are_merged() -> None:
    acl = AddressAcl.parse(["10.0.0.0/8", "10.1.0.0/16", "10.0.0.5"])
    assert acl.networks == (ipaddress.IPv4Network("10.0.0.0/8"),)


@pytest.mark.parametrize(
    "entry",
    [
        "",
        " 10.0.0.0/8",
        "10.0.0.0/8 ",
        "10.0.0.1/8",  # host bits set
        "10.0.0.0/33",
        "010.0.0.1",  # leading zero
        "256.0.0.1",
        "10.0.0",
        "example.com",
        "fe80::1%eth0",
        "2001:db8::/129",
        "2001:db8::1/32",
        "1.2.3.4/24/1",
        "x" * 500,
    ],
)
def test_invalid_entries_raise(entry: str) -> None:
    with pytest.raises(InvalidNetwork) as caught:
        AddressAcl.parse(["192.0.2.0/24", entry])
    assert str(caught.value).startswith("entry 1: ")
    assert len(str(caught.value)) < 200
    assert isinstance(caught.value, SecurityError)
    assert isinstance(caught.value, ValueError)


def test_a_single_string_is_not_a_list() -> None:
    with pytest.raises(InvalidNetwork):
        AddressAcl.parse("10.0.0.0/8")


@pytest.mark.parametrize("address", ["", "10.0.0.0/8", "not an ip", "10.0.0.1 "])
def test_invalid_source_addresses_raise(address: str) -> None:
    with pytest.raises(InvalidNetwork):
        AddressAcl.parse(["10.0.0.0/8"]).allows(address)
    with pytest.raises(InvalidNetwork):
        AddressAcl.parse([]).allows(address)  # invalid input is refused even when unrestricted


@given(st.lists(st.text(max_size=50), max_size=5))
def test_any_entries_parse_or_raise_invalid_network(entries: list[str]) -> None:
    with contextlib.suppress(InvalidNetwork):
        AddressAcl.parse(entries)


@given(st.ip_addresses())
def test_an_address_is_allowed_by_its_own_entry(address: ipaddress.IPv4Address) -> None:
    acl = AddressAcl.parse([str(address)])
    assert acl.allows(str(address))
    assert acl.allows(address)


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=32))
def test_membership_matches_the_standard_library(address: ipaddress.IPv4Address, bits: int) -> None:
    network = ipaddress.IPv4Network((address, bits), strict=False)
    acl = AddressAcl.parse([str(network)])
    probe = ipaddress.IPv4Address(int(address) ^ 1)
    assert acl.allows(probe) is (probe in network)
