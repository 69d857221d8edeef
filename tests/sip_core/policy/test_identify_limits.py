"""IP authentication (longest network, tech prefix, CLI) and the channel/CPS limiter."""

from __future__ import annotations

import uuid

from libs.liveconfig.models import IpAuthConfig
from services.sip_core.policy import CidrIndex, IpAuthIndex, Limiter, LimitKey, TokenBucket
from services.sip_core.policy.limits import LimitExceeded, LimitKind

A, B, C = (uuid.uuid4() for _ in range(3))


def entry(customer: uuid.UUID, address: str, **extra: object) -> IpAuthConfig:
    return IpAuthConfig(
        id=uuid.uuid4(), owner="customer", customer_id=customer, address=address,
        direction="ingress", **extra,
    )  # fmt: skip


def test_cidr_index_finds_the_longest_network_v4_v6_and_mapped() -> None:
    index = CidrIndex(
        [("10.0.0.0/8", "wide"), ("10.1.0.0/16", "mid"), ("10.1.2.3", "host"),
         ("2001:db8::/32", "v6")]
    )  # fmt: skip
    assert index.lookup("10.1.2.3") == ("host",)
    assert index.lookup("10.1.9.9") == ("mid",)
    assert index.lookup("10.200.0.1") == ("wide",)
    assert index.lookup("::ffff:10.1.2.3") == ("host",)
    assert index.lookup("2001:db8::5") == ("v6",)
    assert index.lookup("192.0.2.1") == ()
    assert index.lookup("not-an-ip") == ()
    assert [length for length, _ in index.matches("10.1.2.3")] == [32, 16, 8]


def test_longest_network_wins() -> None:
    wide, narrow = entry(A, "192.0.2.0/24"), entry(B, "192.0.2.16/28")
    index = IpAuthIndex([wide, narrow])
    assert index.identify("192.0.2.17", "4420", "1").entry is narrow  # type: ignore[union-attr]
    assert index.identify("192.0.2.1", "4420", "1").entry is wide  # type: ignore[union-attr]
    assert index.identify("198.51.100.1", "4420", "1") is None


def test_tech_prefix_tells_customers_apart_and_is_stripped() -> None:
    a, b = entry(A, "192.0.2.7", tech_prefix="#11"), entry(B, "192.0.2.7", tech_prefix="#1")
    index = IpAuthIndex([b, a])
    found = index.identify("192.0.2.7", "#114420", "1")
    assert found is not None
    assert (found.entry, found.tech_prefix, found.dialled) == (a, "#11", "4420")
    found = index.identify("192.0.2.7", "#124420", "1")
    assert found is not None
    assert found.entry is b
    assert found.dialled == "24420"
    assert index.identify("192.0.2.7", "4420", "1") is None  # no prefix: nobody


def test_cli_authentication_and_a_shorter_network_as_fallback() -> None:
    a = entry(A, "192.0.2.7", cli_auth=True)
    b = entry(B, "192.0.2.7", cli_auth=True)
    c = entry(C, "192.0.2.0/24")
    patterns = {str(A): "4420", str(B): "331"}
    index = IpAuthIndex([a, b, c])

    def matches(customer: str, cli: str) -> bool:
        return customer in patterns and cli.startswith(patterns[customer])

    assert index.identify("192.0.2.7", "999", "442071", matches).entry is a  # type: ignore[union-attr]
    assert index.identify("192.0.2.7", "999", "33123", matches).entry is b  # type: ignore[union-attr]
    # A CLI neither claims: the /32 decides nothing, the /24's plain entry takes it.
    assert index.identify("192.0.2.7", "999", "49", matches).entry is c  # type: ignore[union-attr]


def test_plain_entries_of_two_customers_on_one_address_are_ambiguous() -> None:
    index = IpAuthIndex([entry(A, "192.0.2.7"), entry(B, "192.0.2.7")])
    assert index.identify("192.0.2.7", "4420", "1") is None


def test_egress_and_carrier_entries_do_not_authenticate_calls() -> None:
    egress = entry(A, "192.0.2.7").model_copy(update={"direction": "egress"})
    carrier = IpAuthConfig(
        id=uuid.uuid4(), owner="carrier", carrier_id=B, address="192.0.2.8", direction="ingress"
    )
    index = IpAuthIndex([egress, carrier, entry(A, "gw.example.net")])
    assert len(index) == 0


def test_token_bucket_with_a_fake_clock() -> None:
    bucket = TokenBucket(2, now=0.0)
    assert bucket.take(0.0)
    assert bucket.take(0.0)
    assert not bucket.take(0.1)
    assert bucket.take(0.5)  # one token back after half a second at 2/s
    assert not bucket.take(0.5)
    assert bucket.take(10.0)
    assert bucket.take(10.0)
    assert not bucket.take(10.0)


def test_limits_are_all_or_nothing_and_released_once() -> None:
    limiter = Limiter()
    levels = [LimitKey("ipauth:1", channels=5), LimitKey("customer:1", channels=2)]
    first = limiter.acquire(levels, 0.0)
    second = limiter.acquire(levels, 0.0)
    third = limiter.acquire(levels, 0.0)
    assert isinstance(third, LimitExceeded)
    assert (third.key, third.kind) == ("customer:1", LimitKind.CHANNELS)
    assert limiter.in_use("ipauth:1") == 2  # the refused call took nothing
    assert not isinstance(first, LimitExceeded)
    assert not isinstance(second, LimitExceeded)
    first.release()
    first.release()  # idempotent: the counter is not decremented twice
    assert limiter.in_use("customer:1") == 1
    assert not isinstance(limiter.acquire(levels, 0.0), LimitExceeded)
    second.release()
    assert limiter.in_use("customer:1") == 1


def test_cps_limit_refuses_the_excess_and_recovers() -> None:
    limiter = Limiter()
    levels = [LimitKey("customer:1", cps=3), LimitKey("platform", channels=0)]
    results = [limiter.acquire(levels, 0.0) for _ in range(5)]
    refused = [r for r in results if isinstance(r, LimitExceeded)]
    assert len(refused) == 2
    assert refused[0].kind is LimitKind.CPS
    for r in results:
        if not isinstance(r, LimitExceeded):
            r.release()
    assert not isinstance(limiter.acquire(levels, 1.0), LimitExceeded)
    limiter.forget_idle_buckets(100.0)


def test_other_nodes_calls_count_against_a_channel_limit() -> None:
    limiter = Limiter()
    levels = [LimitKey("customer:1", channels=3), LimitKey("route:1")]
    limiter.set_remote({"customer:1": 2}, {})
    lease = limiter.acquire(levels, 0.0)
    assert not isinstance(lease, LimitExceeded)
    refused = limiter.acquire(levels, 0.0)
    assert isinstance(refused, LimitExceeded)
    assert (refused.key, refused.kind) == ("customer:1", LimitKind.CHANNELS)
    assert limiter.in_use("customer:1") == 1
    assert limiter.in_use_everywhere("customer:1") == 3
    limiter.set_remote({}, {})  # the other node's calls ended (or it died)
    assert not isinstance(limiter.acquire(levels, 0.0), LimitExceeded)


def test_usage_reports_limited_keys_and_admission_rates() -> None:
    limiter = Limiter()
    levels = [LimitKey("customer:1", channels=10, cps=100), LimitKey("route:1")]
    assert limiter.usage(0.0, 100) == ({}, {})  # the first report has no rate yet
    leases = [limiter.acquire(levels, 0.1 * i) for i in range(4)]
    channels, cps = limiter.usage(2.0, 100)
    assert channels == {"customer:1": 4}  # route:1 has no limit: nothing to share
    assert cps == {"customer:1": 2.0}  # 4 calls in 2 s
    for lease in leases:
        assert not isinstance(lease, LimitExceeded)
        lease.release()
    assert limiter.usage(3.0, 100) == ({}, {})


def test_a_cps_limit_is_shared_with_the_other_nodes() -> None:
    limiter = Limiter()
    # Nobody else admits: the whole rate.
    assert limiter.cps_allowance("customer:1", 10) == 10.0
    # One other node admits 4/s: 6 are left.
    limiter.set_remote({}, {"customer:1": (4.0, 1)})
    assert limiter.cps_allowance("customer:1", 10) == 6.0
    # It takes the whole rate: this node still gets an equal share (the other converges down).
    limiter.set_remote({}, {"customer:1": (10.0, 1)})
    assert limiter.cps_allowance("customer:1", 10) == 5.0
    # Three other nodes at 3/s each: a quarter.
    limiter.set_remote({}, {"customer:1": (9.0, 3)})
    assert limiter.cps_allowance("customer:1", 10) == 2.5
    levels = [LimitKey("customer:1", cps=10)]
    admitted = [limiter.acquire(levels, 0.0) for _ in range(5)]
    assert sum(not isinstance(r, LimitExceeded) for r in admitted) == 2  # capacity 2.5 tokens
