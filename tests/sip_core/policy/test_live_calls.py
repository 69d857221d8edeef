"""Calls through the B2BUA and LivePolicy with configuration published into a real nats-server,
sipp as the customer and as the carriers."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from libs.bus import SECURITY_STREAM
from libs.bus.cdr import ReleasedBy, ReleaseReason
from libs.bus.security import SIP_AUTH_FAILED_SUBJECT, SipAuthFailed
from libs.liveconfig.models import SipUserConfig
from libs.platform.natsd import free_port
from libs.security.digest import ha1
from tests.sip_core.policy.world import World, bus, sip_node, until
from tests.sip_core.sipp import scenario, start_sipp

pytestmark = pytest.mark.slow

NUMBER = "4420123"


async def uac(
    tmp_path: Path,
    port: int,
    *,
    number: str = NUMBER,
    cli: str = "4930111",
    hold: int = 300,
    refusal: int = 503,
    calls: int = 1,
    rate: int = 10,
    extra: tuple[str, ...] = (),
    name: str = "uac_policy",
):  # type: ignore[no-untyped-def]
    path = scenario(name, tmp_path, cli=cli, hold=hold, refusal=refusal)
    return await start_sipp(
        "-sf", str(path), f"127.0.0.1:{port}", "-s", number, "-m", str(calls), "-r", str(rate),
        *extra, port=free_port(), cwd=tmp_path,
    )  # fmt: skip


async def finish(*peers) -> None:  # type: ignore[no-untyped-def]
    for peer in peers:
        rc, out = await peer.finish()
        assert rc == 0, out


async def three_carriers(world: World, ports: list[int], **first: object) -> None:
    """Carriers at ``ports`` buying at 0.010, 0.020 and 0.030 (cheapest first)."""
    for index, port in enumerate(ports):
        await world.carrier(port, f"0.0{index + 1}0", **(first if index == 0 else {}))


async def standard(world: World, *, route: dict[str, object] | None = None, **customer: object):  # type: ignore[no-untyped-def]
    await world.rate_card(world.sell_card_id, [("44", "0.0500"), ("49", "0.0900")])
    entry = world.ipauth()
    await world.put(
        world.customer(**customer), world.balance("100"), entry, world.route(**(route or {}))
    )
    return entry


async def test_ip_auth_call_routed_least_cost_with_rating_in_the_cdr(tmp_path: Path) -> None:
    ports = [free_port() for _ in range(3)]
    async with bus(tmp_path) as world:
        # Published in the "wrong" order: the most expensive first.
        await three_carriers(world, list(reversed(ports)))
        entry = await standard(world)
        async with sip_node(world) as node:
            carrier = await start_sipp("-sn", "uas", "-m", "1", port=ports[-1], cwd=tmp_path)
            await finish(await uac(tmp_path, node.port), carrier)
            await until(lambda: len(node.cdrs) == 1)
            assert node.policy.limiter.in_use(f"customer:{world.customer_id}") == 0

    (cdr,) = node.cdrs
    assert cdr.answered_at is not None
    assert cdr.release_reason is ReleaseReason.NORMAL
    assert (cdr.auth_method, cdr.ipauth_id, cdr.customer_id) == ("ip", entry.id, world.customer_id)
    assert (cdr.route_id, cdr.sell_card_id) == (world.route_id, world.sell_card_id)
    assert (cdr.sell_prefix, cdr.sell_rate, cdr.currency) == ("44", Decimal("0.0500"), "EUR")
    assert cdr.destination == "dest 44"
    (attempt,) = cdr.attempts
    assert attempt.carrier_id == world.carriers[ports[-1]]  # the cheapest (0.010)
    assert attempt.buy_rate == Decimal("0.010")
    assert attempt.buy_prefix == ""
    assert attempt.number_sent == f"sip:{NUMBER}@127.0.0.1:{ports[-1]}"


async def test_failover_from_503_to_the_next_cheapest(tmp_path: Path) -> None:
    cheap, second, third = (free_port() for _ in range(3))
    async with bus(tmp_path) as world:
        await three_carriers(world, [cheap, second, third])
        await standard(world)
        async with sip_node(world) as node:
            refuser = await start_sipp(
                "-sf", str(scenario("uas_reject", tmp_path, code=503)), "-m", "1",
                port=cheap, cwd=tmp_path,
            )  # fmt: skip
            answerer = await start_sipp("-sn", "uas", "-m", "1", port=second, cwd=tmp_path)
            await finish(await uac(tmp_path, node.port), refuser, answerer)
            await until(lambda: len(node.cdrs) == 1)
    (cdr,) = node.cdrs
    assert [a.sip_code for a in cdr.attempts] == [503, 200]
    assert [a.carrier_id for a in cdr.attempts] == [world.carriers[cheap], world.carriers[second]]


async def test_a_carrier_stop_code_ends_routing(tmp_path: Path) -> None:
    cheap, second, third = (free_port() for _ in range(3))
    async with bus(tmp_path) as world:
        # 480 fails over by default; this carrier's configuration makes it final.
        await three_carriers(world, [cheap, second, third], stop_codes=[480])
        await standard(world)
        async with sip_node(world) as node:
            refuser = await start_sipp(
                "-sf", str(scenario("uas_reject", tmp_path, code=480)), "-m", "1",
                port=cheap, cwd=tmp_path,
            )  # fmt: skip
            await finish(await uac(tmp_path, node.port, refusal=480), refuser)
            await until(lambda: len(node.cdrs) == 1)
    (cdr,) = node.cdrs
    assert cdr.sip_code == 480
    assert cdr.release_reason is ReleaseReason.REJECTED
    assert [a.sip_code for a in cdr.attempts] == [480]


async def test_rewrites_and_tech_prefix_are_visible_at_the_carrier(tmp_path: Path) -> None:
    carrier_port = free_port()
    async with bus(tmp_path) as world:
        await world.carrier(carrier_port, "0.010", tech_prefix="777")
        await world.rate_card(world.sell_card_id, [("44", "0.0500")])
        entry = world.ipauth(tech_prefix="99")
        from libs.liveconfig.models import RewriteConfig

        rules = [
            RewriteConfig(  # national 0… to international 44…
                id=uuid.uuid4(), owner="ipauth", owner_id=entry.id, target="destination",
                kind="prefix", match="0", replacement="44", order=1,
            ),
            RewriteConfig(  # the CLI: drop a leading 00
                id=uuid.uuid4(), owner="ipauth", owner_id=entry.id, target="cli",
                kind="regex", match="^00(\\d+)$", replacement="\\1", order=1,
            ),
        ]  # fmt: skip
        await world.put(world.customer(), world.balance("100"), entry, world.route(), *rules)
        async with sip_node(world) as node:
            carrier = await start_sipp(
                "-sf", str(scenario("uas_expect", tmp_path, number="777" + "4420999",
                                    cli="4930111")),
                "-m", "1", port=carrier_port, cwd=tmp_path,
            )  # fmt: skip
            caller = await uac(tmp_path, node.port, number="99" + "020999", cli="004930111")
            await finish(caller, carrier)
            await until(lambda: len(node.cdrs) == 1)
    (cdr,) = node.cdrs
    assert (cdr.callee_received, cdr.caller_received) == ("99020999", "004930111")
    assert (cdr.callee_sent, cdr.caller_sent) == ("4420999", "4930111")
    assert cdr.attempts[0].number_sent == f"sip:7774420999@127.0.0.1:{carrier_port}"


async def test_digest_authentication_success_and_failure_with_a_security_event(
    tmp_path: Path,
) -> None:
    carrier_port = free_port()
    async with bus(tmp_path) as world:
        await world.carrier(carrier_port, "0.010")
        await world.rate_card(world.sell_card_id, [("44", "0.0500")])
        user = SipUserConfig(
            id=uuid.uuid4(), customer_id=world.customer_id, username="alice", realm="tandem",
            ha1_md5=ha1("alice", "tandem", "s3cret", "MD5"),
            ha1_sha256=ha1("alice", "tandem", "s3cret", "SHA-256"),
        )  # fmt: skip
        await world.put(world.customer(), world.balance("100"), user, world.route())
        # sipp 3.6 reads the first challenge only and knows only MD5: offer MD5 first.
        async with sip_node(world, digest_algorithms=("MD5", "SHA-256")) as node:
            carrier = await start_sipp("-sn", "uas", "-m", "1", port=carrier_port, cwd=tmp_path)
            good = await uac(tmp_path, node.port, extra=("-au", "alice", "-ap", "s3cret"))
            await finish(good, carrier)
            await until(lambda: len(node.cdrs) == 2)  # the 407 and the call
            bad = await uac(
                tmp_path, node.port, refusal=403, extra=("-au", "alice", "-ap", "guess")
            )
            await finish(bad)
            await until(lambda: len(node.cdrs) == 4)
            bus_ = world.connector.bus
            await until(lambda: node.policy._events is not None and not node.policy._events.pending)
            stored = await bus_.js.get_last_msg(SECURITY_STREAM, SIP_AUTH_FAILED_SUBJECT)
    answered = [cdr for cdr in node.cdrs if cdr.answered_at is not None]
    assert len(answered) == 1
    assert (answered[0].auth_method, answered[0].sip_user_id) == ("digest", user.id)
    assert [cdr.sip_code for cdr in node.cdrs if cdr.answered_at is None] == [407, 407, 403]
    event = SipAuthFailed.model_validate_json(stored.data)
    assert (event.reason, event.username, event.sip_status) == ("bad_credentials", "alice", 403)
    assert event.source_address == "127.0.0.1"
    assert event.method == "INVITE"


async def test_channel_limit_refuses_the_excess_and_recovers_after_hangup(tmp_path: Path) -> None:
    carrier_port = free_port()
    async with bus(tmp_path) as world:
        await world.carrier(carrier_port, "0.010")
        await standard(world, channel_limit=1)
        async with sip_node(world) as node:
            carrier = await start_sipp("-sn", "uas", "-m", "2", port=carrier_port, cwd=tmp_path)
            long_call = await uac(tmp_path, node.port, hold=3000)
            await until(lambda: any(c.answered_at for c in node.b2bua.calls))
            await finish(await uac(tmp_path, node.port))  # refused: 503
            assert node.cdrs[-1].release_reason is ReleaseReason.LIMIT_CHANNELS
            assert node.cdrs[-1].sip_code == 503
            await finish(long_call)
            await until(lambda: len(node.cdrs) == 2)
            await finish(await uac(tmp_path, node.port), carrier)  # a channel is free again
            await until(lambda: len(node.cdrs) == 3)
    assert [c.release_reason for c in node.cdrs] == [
        ReleaseReason.LIMIT_CHANNELS, ReleaseReason.NORMAL, ReleaseReason.NORMAL,
    ]  # fmt: skip


async def test_a_channel_limit_holds_across_the_nodes_of_the_platform(tmp_path: Path) -> None:
    """Two sip_core nodes, one customer with one channel: a call held on node A takes it, so
    node B refuses the customer's next call until A's call has ended."""
    carrier_port = free_port()
    async with bus(tmp_path) as world:
        await world.carrier(carrier_port, "0.010")
        await standard(world, channel_limit=1)
        key = f"customer:{world.customer_id}"
        async with (
            sip_node(world, node_id="node-a", limits_interval=0.05) as a,
            sip_node(world, node_id="node-b", limits_interval=0.05) as b,
        ):
            carrier = await start_sipp("-sn", "uas", "-m", "2", port=carrier_port, cwd=tmp_path)
            long_call = await uac(tmp_path, a.port, hold=4000)
            await until(lambda: any(c.answered_at for c in a.b2bua.calls))
            await until(lambda: b.policy.limiter.in_use_everywhere(key) == 1)
            await finish(await uac(tmp_path, b.port))  # refused by B: 503
            assert b.cdrs[-1].release_reason is ReleaseReason.LIMIT_CHANNELS
            assert b.cdrs[-1].sip_code == 503
            await finish(long_call)
            await until(lambda: len(a.cdrs) == 1)
            await until(lambda: b.policy.limiter.in_use_everywhere(key) == 0)
            await finish(await uac(tmp_path, b.port), carrier)  # the channel is free again
            await until(lambda: len(b.cdrs) == 2)
    assert [c.release_reason for c in a.cdrs] == [ReleaseReason.NORMAL]
    assert [c.release_reason for c in b.cdrs] == [
        ReleaseReason.LIMIT_CHANNELS, ReleaseReason.NORMAL,
    ]  # fmt: skip


async def test_cps_limit_refuses_the_excess(tmp_path: Path) -> None:
    carrier_port = free_port()
    async with bus(tmp_path) as world:
        await world.carrier(carrier_port, "0.010")
        await standard(world, cps_limit=2)
        async with sip_node(world) as node:
            carrier = await start_sipp("-sn", "uas", "-m", "10", port=carrier_port, cwd=tmp_path)
            burst = await uac(tmp_path, node.port, calls=10, rate=100, hold=100)
            await finish(burst)
            carrier.stop()
            await until(lambda: len(node.cdrs) == 10)
    refused = [c for c in node.cdrs if c.release_reason is ReleaseReason.LIMIT_CPS]
    answered = [c for c in node.cdrs if c.answered_at is not None]
    assert len(refused) >= 5
    assert 2 <= len(answered) <= 5
    assert all(c.sip_code == 503 for c in refused)


async def test_balance_refusal_and_duration_cap(tmp_path: Path) -> None:
    carrier_port = free_port()
    async with bus(tmp_path) as world:
        await world.carrier(carrier_port, "0.010")
        # 0.60/min billed per second: 0.02 buys 2 s.
        await world.rate_card(world.sell_card_id, [("44", "0.6000")], increments=(1, 1))
        await world.put(world.customer(), world.balance("0"), world.ipauth(), world.route())
        async with sip_node(world) as node:
            await finish(await uac(tmp_path, node.port, refusal=402))
            assert node.cdrs[-1].release_reason is ReleaseReason.INSUFFICIENT_BALANCE
            await world.put(world.balance("0.02", version=1))
            await until(lambda: node.policy._balances[world.customer_id].balance == "0.02")
            carrier = await start_sipp("-sn", "uas", "-m", "1", port=carrier_port, cwd=tmp_path)
            caller = await start_sipp(
                "-sf", str(scenario("uac_until_bye", tmp_path, cli="4930111")),
                f"127.0.0.1:{node.port}", "-s", NUMBER, "-m", "1",
                port=free_port(), cwd=tmp_path,
            )  # fmt: skip
            await finish(caller, carrier)
            await until(lambda: len(node.cdrs) == 2)
    capped = node.cdrs[-1]
    assert capped.release_reason is ReleaseReason.MAX_DURATION
    assert capped.released_by is ReleasedBy.SWITCH
    assert 1500 <= capped.duration_ms <= 4000
