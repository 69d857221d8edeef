"""The security plane's sans-I/O core: prefix matching, the source index, the flood guard and
the gate in front of the parser, driven with a fake clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from libs.bus.messages import BusMessage
from libs.bus.security import ScannerDetected, SourceFlooded
from libs.liveconfig.models import (
    CustomerConfig,
    FirewallConfig,
    IpAuthConfig,
    SettingsConfig,
    SipUserConfig,
)
from services.sip_core.protection import FloodGuard, PrefixTable, Protection, SourceIndex
from services.sip_core.protection.live import presence_hosts
from services.sip_core.sip import Peer, parse_datagram

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def rule(network: str, action: str = "block", expires_at: datetime | None = None) -> FirewallConfig:
    return FirewallConfig.model_validate(
        {"id": uuid.uuid4(), "network": network, "action": action, "expires_at": expires_at}
    )


def ipauth(address: str) -> IpAuthConfig:
    return IpAuthConfig(
        id=uuid.uuid4(), owner="customer", customer_id=uuid.uuid4(), address=address,
        direction="ingress",
    )  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request(
    method: str = "INVITE",
    *,
    to_tag: str | None = None,
    user_agent: str | None = None,
    user: str = "4930123",
) -> bytes:
    tag = f";tag={to_tag}" if to_tag else ""
    ua = f"User-Agent: {user_agent}\r\n" if user_agent else ""
    return (
        f"{method} sip:{user}@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bK{uuid.uuid4().hex}\r\n"
        f"From: <sip:a@127.0.0.9>;tag=1\r\nTo: <sip:{user}@127.0.0.1>{tag}\r\n"
        f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
        f"{ua}Content-Length: 0\r\n\r\n"
    ).encode()


# -- prefix table ---------------------------------------------------------------------------


def test_the_longest_prefix_wins_for_ipv4_and_ipv6() -> None:
    table = PrefixTable(
        [("10.0.0.0/8", "wide"), ("10.1.0.0/16", "narrow"), ("10.1.2.3", "host"),
         ("2001:db8::/32", "v6"), ("2001:db8:1::/48", "v6-narrow")]
    )  # fmt: skip
    assert table.lookup("10.9.9.9") == "wide"
    assert table.lookup("10.1.9.9") == "narrow"
    assert table.lookup("10.1.2.3") == "host"
    assert table.lookup("11.0.0.1") is None
    assert table.lookup("2001:db8:1::5") == "v6-narrow"
    assert table.lookup("2001:db8:2::5") == "v6"
    assert table.lookup("2001:db9::1") is None
    assert table.lookup("::ffff:10.1.2.3") == "host"  # what a dual-stack socket reports
    assert table.lookup("not-an-address") is None
    assert len(table) == 5


def test_unparseable_networks_are_skipped_not_fatal() -> None:
    table = PrefixTable([("carrier.example.net", 1), ("192.0.2.7/24", 2)])
    assert table.skipped == ["carrier.example.net"]
    assert table.lookup("192.0.2.200") == 2  # host bits tolerated


# -- source index ---------------------------------------------------------------------------


def test_firewall_block_allow_and_trusted_by_longest_prefix() -> None:
    index = SourceIndex(
        firewall=[
            rule("198.51.100.0/24"),
            rule("198.51.100.7", "allow"),
            rule("198.51.100.8", "trusted"),
            rule("203.0.113.0/24", "trusted"),
            rule("203.0.113.66"),
        ],
        now=NOW,
    )
    assert index.classify("198.51.100.1").blocked
    allowed = index.classify("198.51.100.7")
    assert not allowed.blocked
    assert not allowed.exempt
    assert index.classify("198.51.100.8").exempt
    assert index.classify("203.0.113.5").exempt
    assert index.classify("203.0.113.66").blocked
    assert index.rules == 5


def test_expired_rules_are_left_out_and_the_next_expiry_is_known() -> None:
    soon, later = NOW + timedelta(seconds=5), NOW + timedelta(hours=1)
    index = SourceIndex(
        firewall=[
            rule("192.0.2.1", expires_at=NOW - timedelta(seconds=1)),
            rule("192.0.2.2", expires_at=soon),
            rule("192.0.2.3", expires_at=later),
        ],
        now=NOW,
    )
    assert not index.classify("192.0.2.1").blocked
    assert index.classify("192.0.2.2").blocked
    assert index.next_expiry == soon
    assert (
        not SourceIndex(firewall=[rule("192.0.2.2", expires_at=soon)], now=soon)
        .classify("192.0.2.2")
        .blocked
    )


def test_authorised_and_platform_addresses_are_exempt_and_customers_override_the_limit() -> None:
    customer = CustomerConfig(
        id=uuid.uuid4(), name="c", status="active", currency="EUR", debit_limit="0",
        source_ranges=["100.64.0.0/16"], flood_max_requests=1000,
    )  # fmt: skip
    user = SipUserConfig(
        id=uuid.uuid4(), customer_id=customer.id, username="u", realm="r", ha1_md5="x",
        ha1_sha256="y", allowed_sources=["100.65.0.0/24"],
    )  # fmt: skip
    index = SourceIndex(
        ipauth=[ipauth("192.0.2.0/28"), ipauth("sbc.example.net")],
        customers={customer.id: customer},
        sipusers=[user],
        platform=["10.0.0.5"],
        trusted=["172.16.0.0/12"],
        firewall=[rule("192.0.2.9")],
        now=NOW,
    )
    assert index.classify("192.0.2.3").why == "ipauth_customer"
    assert index.classify("10.0.0.5").why == "platform_node"
    assert index.classify("172.20.1.1").exempt
    assert index.classify("192.0.2.9").blocked  # an operator's block beats an ipauth entry
    assert index.classify("100.64.3.3").limit == 1000
    assert index.classify("100.65.0.9").limit == 1000
    assert index.classify("8.8.8.8").limit is None


# -- flood guard ----------------------------------------------------------------------------


def test_a_source_over_the_limit_is_banned_then_re_evaluated() -> None:
    guard = FloodGuard(max_requests=10, window=10.0, ban_seconds=60.0)
    bans = [guard.hit("192.0.2.1", 100.0 + i * 0.1) for i in range(11)]
    assert bans[:10] == [None] * 10
    ban = bans[10]
    assert ban is not None
    assert ban.requests == 11
    assert ban.until == pytest.approx(161.0)
    assert guard.banned("192.0.2.1", 150.0)
    assert not guard.banned("192.0.2.2", 150.0)
    assert not guard.banned("192.0.2.1", 161.5)  # served its time
    assert guard.hit("192.0.2.1", 162.0) is None  # counted from zero again


def test_the_window_slides_across_window_boundaries() -> None:
    guard = FloodGuard(max_requests=10, window=10.0, ban_seconds=60.0)
    for i in range(8):  # 8 at the end of one window…
        assert guard.hit("192.0.2.1", 108.0 + i * 0.1) is None
    # …and 5 at the start of the next: 13 within 10 s, which two fixed windows would miss.
    results = [guard.hit("192.0.2.1", 111.0 + i * 0.1) for i in range(5)]
    assert any(r is not None for r in results)


def test_a_steady_source_under_the_rate_is_never_banned() -> None:
    guard = FloodGuard(max_requests=20, window=10.0, ban_seconds=60.0)
    assert all(guard.hit("192.0.2.1", 100.0 + i * 0.6) is None for i in range(1000))


def test_memory_stays_bounded_under_a_spoofed_source_flood() -> None:
    guard = FloodGuard(max_requests=5, window=10.0, ban_seconds=60.0, max_sources=1000)
    for i in range(50_000):
        guard.hit(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", 100.0 + i * 1e-5)
        if i % 50 == 0:
            guard.hit("192.0.2.1", 100.0 + i * 1e-5)  # a real flooder among them
    assert guard.tracked <= 1000
    assert guard.banned("192.0.2.1", 101.0)


def test_zero_disables_flood_protection() -> None:
    guard = FloodGuard(max_requests=0, window=10.0, ban_seconds=60.0)
    assert all(guard.hit("192.0.2.1", 100.0) is None for _ in range(1000))


# -- the gate -------------------------------------------------------------------------------


def protection(clock: Clock, events: list[BusMessage], **settings: int) -> Protection:
    values = {"flood_max_requests": 5, "flood_window_seconds": 10, "flood_block_seconds": 60}
    values.update(settings)
    return Protection(
        clock,
        node_id="n1",
        zone="z",
        report=lambda subject, message: events.append(message),
        settings=SettingsConfig(id=uuid.uuid4(), **values),
    )


def screen(gate: Protection, data: bytes, host: str) -> bool:
    return gate.admit(host) and gate.screen(parse_datagram(data), Peer("UDP", host, 5060))


def test_blocked_sources_are_dropped_before_parsing() -> None:
    gate = protection(Clock(), [])
    gate.swap(SourceIndex(firewall=[rule("127.0.0.66")], now=datetime.now(UTC)))
    assert not gate.admit("127.0.0.66")
    assert gate.admit("127.0.0.67")
    gate.swap(SourceIndex(now=datetime.now(UTC)))  # the operator unblocked it
    assert gate.admit("127.0.0.66")


def test_new_requests_are_counted_in_dialog_traffic_is_not() -> None:
    clock, events = Clock(), list[BusMessage]()
    gate = protection(clock, events)
    for _ in range(50):
        assert screen(gate, request("INVITE", to_tag="abc"), "127.0.0.2")  # re-INVITEs
        assert screen(gate, request("ACK", to_tag="abc"), "127.0.0.2")
        assert screen(gate, request("BYE", to_tag="abc"), "127.0.0.2")
    assert [screen(gate, request("OPTIONS"), "127.0.0.2") for _ in range(6)] == [True] * 5 + [False]
    assert not gate.admit("127.0.0.2")  # ignored from now on
    flooded = [e for e in events if isinstance(e, SourceFlooded)]
    assert len(flooded) == 1
    assert flooded[0].source_address == "127.0.0.2"
    assert flooded[0].limit == 5
    assert flooded[0].ban_seconds == 60
    assert gate.admit("127.0.0.3")  # another source is unaffected
    clock.now += 61
    assert gate.admit("127.0.0.2")


def test_malformed_messages_and_auth_failures_count_too() -> None:
    gate = protection(Clock(), [])
    for _ in range(3):
        assert gate.malformed("127.0.0.4")
    gate.auth_failed("127.0.0.4")
    gate.auth_failed("127.0.0.4")
    assert gate.admit("127.0.0.4")
    assert not gate.malformed("127.0.0.4")  # the sixth: banned, not answered
    assert not gate.admit("127.0.0.4")


def test_exempt_sources_are_never_banned_and_trusting_lifts_a_ban() -> None:
    gate = protection(Clock(), [])
    gate.swap(SourceIndex(firewall=[rule("127.0.0.5", "trusted")], now=datetime.now(UTC)))
    assert all(screen(gate, request("REGISTER"), "127.0.0.5") for _ in range(100))
    for _ in range(6):
        screen(gate, request("OPTIONS"), "127.0.0.6")
    assert not gate.admit("127.0.0.6")
    gate.swap(SourceIndex(ipauth=[ipauth("127.0.0.6")], now=datetime.now(UTC)))
    assert gate.admit("127.0.0.6")


def test_scanner_user_agents_are_dropped_and_reported_once_a_minute() -> None:
    clock, events = Clock(), list[BusMessage]()
    gate = protection(clock, events, flood_max_requests=1000)
    for agent in ("friendly-scanner", "sipvicious 0.3", "SIPCLI/v1.8", "VaxSIPUserAgent/3.1"):
        assert not screen(gate, request("REGISTER", user_agent=agent, user="100"), "127.0.0.7")
    assert screen(gate, request("INVITE", user_agent="Asterisk PBX 20.1"), "127.0.0.8")
    scans = [e for e in events if isinstance(e, ScannerDetected)]
    assert len(scans) == 1
    assert scans[0].fingerprint == "friendly-scanner"
    assert scans[0].to_user == "100"
    clock.now += 61
    screen(gate, request("OPTIONS", user_agent="friendly-scanner"), "127.0.0.7")
    assert len([e for e in events if isinstance(e, ScannerDetected)]) == 2


@pytest.mark.parametrize(
    ("addresses", "hosts"),
    [
        (["127.0.0.1:5060", "127.0.0.1:8004"], {"127.0.0.1"}),
        (["[2001:db8::1]:5060", "0.0.0.0:5060"], {"2001:db8::1"}),
        (["10.0.0.1"], {"10.0.0.1"}),
    ],
)
def test_presence_addresses_give_the_platform_hosts(addresses: list[str], hosts: set[str]) -> None:
    assert presence_hosts(addresses) == hosts
