"""LivePolicy decisions on INVITEs (no SIP peers): configuration changes, refusals, events."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from libs.bus.cdr import ReleaseReason
from libs.bus.security import SipAuthFailed
from libs.liveconfig.models import FirewallConfig, IpAuthConfig, SipUserConfig
from libs.security.digest import compute_response, ha1
from services.sip_core.b2bua.policy import Admission, Refusal
from services.sip_core.policy import LivePolicy, PolicySnapshot
from services.sip_core.sip import Peer, Request, parse_auth
from tests.sip_core.policy.world import World, bus, until

CALLER = Peer("UDP", "127.0.0.1", 5062)


def invite(number: str = "4420123", cli: str = "4930111", *extra: tuple[str, str]) -> Request:
    return Request(
        "INVITE",
        f"sip:{number}@127.0.0.1",
        [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK{uuid.uuid4().hex}"),
            ("From", f"<sip:{cli}@127.0.0.1>;tag=1"),
            ("To", f"<sip:{number}@127.0.0.1>"),
            ("Call-ID", uuid.uuid4().hex),
            ("CSeq", "1 INVITE"),
            ("Max-Forwards", "70"),
            *extra,
        ],
    )


@asynccontextmanager
async def policy_of(world: World) -> AsyncIterator[tuple[LivePolicy, list[SipAuthFailed]]]:
    events: list[SipAuthFailed] = []
    policy = LivePolicy(world.connector, node_id="n1", zone="z1", security=events.append)
    policy.start()
    try:
        await policy.wait_ready(15)
        yield policy, events
    finally:
        await policy.stop()


async def configured(world: World, **customer: object) -> IpAuthConfig:
    await world.carrier(5090, "0.010", channel_limit=1)
    await world.rate_card(world.sell_card_id, [("44", "0.0500")])
    entry = world.ipauth()
    await world.put(world.customer(**customer), world.balance("10"), entry, world.route())
    return entry


async def changed(policy: LivePolicy, applied: Callable[[PolicySnapshot], bool]) -> float:
    """Seconds until the policy's snapshot shows a change (``applied``)."""
    started = time.monotonic()
    await until(lambda: policy.snapshot is not None and applied(policy.snapshot), within=5)
    return time.monotonic() - started


async def test_changes_reach_new_calls_within_a_second(tmp_path: Path) -> None:
    async with bus(tmp_path) as world:
        await configured(world)
        async with policy_of(world) as (policy, events):
            admitted = policy.admit(invite(), CALLER)
            assert isinstance(admitted, Admission)
            policy.release(admitted)
            await world.put(world.customer(status="suspended", version=1))
            customer = str(world.customer_id)
            assert await changed(policy, lambda s: s.customers[customer].version == 1) < 1.0
            refused = policy.admit(invite(), CALLER)
            assert refused == Refusal(403, ReleaseReason.UNAUTHORISED)
            assert events[-1].reason == "account_inactive"
            # The call admitted before the change kept its snapshot: its targets are intact.
            assert admitted.targets[0].peer == Peer("UDP", "127.0.0.1", 5090)


async def test_unknown_sources_blocked_sources_and_bad_numbers(tmp_path: Path) -> None:
    async with bus(tmp_path) as world:
        await configured(world)
        async with policy_of(world) as (policy, events):
            stranger = Peer("UDP", "192.0.2.99", 5060)
            assert policy.admit(invite(), stranger) == Refusal(403, ReleaseReason.UNAUTHORISED)
            assert events[-1].reason == "unknown_source"
            assert events[-1].source_address == "192.0.2.99"
            assert events[-1].node_id == "n1"
            unrouted = policy.admit(invite("3312"), CALLER)
            assert unrouted == Refusal(
                404, ReleaseReason.NO_RATE
            )  # the route takes all, the card not
            not_digits = policy.admit(invite("44abc"), CALLER)
            assert not_digits == Refusal(484, ReleaseReason.NO_ROUTE)
            await world.put(FirewallConfig(id=uuid.uuid4(), network="127.0.0.0/8", action="block"))
            await changed(policy, lambda s: len(s.firewall) == 1)
            assert policy.firewall_action("127.0.0.1") == "block"
            assert policy.admit(invite(), CALLER) == Refusal(403, ReleaseReason.UNAUTHORISED)
            # Nothing stayed reserved by the refused calls.
            assert policy.limiter.in_use(f"customer:{world.customer_id}") == 0


async def test_a_carrier_at_its_limit_is_skipped_per_attempt(tmp_path: Path) -> None:
    async with bus(tmp_path) as world:
        await configured(world)
        async with policy_of(world) as (policy, _):
            first, second = (policy.admit(invite(), CALLER) for _ in range(2))
            assert isinstance(first, Admission)
            assert isinstance(second, Admission)
            assert policy.begin_attempt(first, first.targets[0]) is None
            skipped = policy.begin_attempt(second, second.targets[0])
            assert skipped == Refusal(503, ReleaseReason.LIMIT_CHANNELS)
            policy.release(first)
            policy.release(first)  # a second release changes nothing
            assert policy.begin_attempt(second, second.targets[0]) is None
            policy.release(second)
            assert all(policy.limiter.in_use(key) == 0 for key in ("platform",))


async def test_digest_allow_list_outside_calls_and_customer_ranges(tmp_path: Path) -> None:
    async with bus(tmp_path) as world:
        await world.carrier(5090, "0.010")
        await world.rate_card(world.sell_card_id, [("44", "0.0500")])
        user = SipUserConfig(
            id=uuid.uuid4(), customer_id=world.customer_id, username="bob", realm="tandem",
            ha1_md5=ha1("bob", "tandem", "pw", "MD5"),
            ha1_sha256=ha1("bob", "tandem", "pw", "SHA-256"),
            allowed_sources=["10.0.0.0/8"], calls_outside_allow_list=1,
        )  # fmt: skip
        await world.put(world.customer(), world.balance("10"), user, world.route())
        async with policy_of(world) as (policy, events):

            def authorised(source: Peer) -> Admission | Refusal:

                challenge = policy.admit(invite(), source)
                assert isinstance(challenge, Refusal)
                assert challenge.status == 407
                assert challenge.headers[0][1].startswith("Digest")
                nonce = parse_auth(challenge.headers[0][1]).get("nonce") or ""

                response = compute_response(
                    user.ha1_sha256, method="INVITE", uri="sip:4420123@127.0.0.1",
                    nonce=nonce, algorithm="SHA-256", nc="00000001", cnonce="c",
                )  # fmt: skip
                header = (
                    f'Digest username="bob", realm="tandem", nonce="{nonce}", '
                    f'uri="sip:4420123@127.0.0.1", algorithm=SHA-256, qop=auth, '
                    f'nc=00000001, cnonce="c", response="{response}"'
                )
                return policy.admit(invite("4420123", "1", ("Proxy-Authorization", header)), source)

            inside = authorised(Peer("UDP", "10.1.2.3", 5060))
            assert isinstance(inside, Admission)
            assert (inside.auth_method, inside.sip_user_id) == ("digest", user.id)
            outside = authorised(CALLER)  # outside the allow list: 1 call allowed
            assert isinstance(outside, Admission)
            refused = authorised(CALLER)
            assert refused == Refusal(503, ReleaseReason.LIMIT_CHANNELS)
            policy.release(outside)
            again = authorised(CALLER)
            assert isinstance(again, Admission)
            policy.release(again)
            policy.release(inside)

            await world.put(world.customer(source_ranges=["10.0.0.0/8"], version=1))
            await changed(policy, lambda s: s.customers[str(world.customer_id)].version == 1)
            assert authorised(CALLER) == Refusal(403, ReleaseReason.UNAUTHORISED)
            assert events[-1].reason == "source_not_allowed"
            assert events[-1].username == "bob"


async def test_balance_and_daily_spend(tmp_path: Path) -> None:
    async with bus(tmp_path) as world:
        await configured(world, debit_limit="5", daily_spend_limit="20", max_call_duration=60)
        async with policy_of(world) as (policy, _):
            admitted = policy.admit(invite(), CALLER)
            assert isinstance(admitted, Admission)
            assert admitted.max_duration == 60  # the customer's cap is below the balance's
            policy.release(admitted)
            await world.put(world.balance("-5", version=1))
            await until(lambda: policy._balances[world.customer_id].version == 1)
            refused = policy.admit(invite(), CALLER)
            assert refused == Refusal(402, ReleaseReason.INSUFFICIENT_BALANCE)
            today = policy.wall_clock().date()
            await world.put(world.balance("50", spent_today="20", day=today, version=2))
            await until(lambda: policy._balances[world.customer_id].version == 2)
            refused = policy.admit(invite(), CALLER)
            assert refused == Refusal(402, ReleaseReason.DAILY_SPEND_LIMIT)


async def test_not_ready_refuses_with_503() -> None:
    policy = LivePolicy(None)
    assert policy.admit(invite(), CALLER) == Refusal(503, ReleaseReason.NO_ROUTE)
    with pytest.raises(ConnectionError):
        await policy.check_ready()
    await asyncio.sleep(0)
