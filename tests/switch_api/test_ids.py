"""The IDS worker end to end: security events on a real nats-server's SECURITY stream become
automatic firewall rules in the database, which reach every sip_core node's gate within a
second; an operator's delete unblocks everywhere within a second; protected sources are
reported, never blocked."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from libs.bus import BusConnector, provision
from libs.bus.security import (
    BLOCK_WITHHELD_SUBJECT,
    SIP_AUTH_FAILED_SUBJECT,
    SOURCE_BLOCKED_SUBJECT,
    BlockWithheld,
    SipAuthFailed,
    SourceBlocked,
)
from libs.db import Database, UnitOfWork
from libs.db.models import FirewallAction, FirewallRule, FirewallSource
from libs.platform.natsd import NatsServer, free_port
from services.sip_core.protection import SecurityReporter
from services.switch_api.firewall.schemas import FirewallRuleCreate
from services.switch_api.firewall.service import FirewallService
from services.switch_api.ids.worker import IdsWorker
from tests.sip_core.protection_helpers import (
    Targets,
    live_protection,
    options,
    protected_node,
    udp_host,
    until,
)

pytestmark = pytest.mark.slow


@pytest.fixture
async def connector(tmp_path: Path) -> AsyncIterator[BusConnector]:
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        connector = BusConnector(server.url, name="ids-test")
        connector.start()
        try:
            await provision((await connector.wait_connected(10)).js)
            yield connector
        finally:
            await connector.close()


@pytest.fixture
async def worker(database: Database, connector: BusConnector) -> AsyncIterator[IdsWorker]:
    worker = IdsWorker(database, connector)
    worker.start()
    try:
        await asyncio.wait_for(worker.ready.wait(), 15)
        yield worker
    finally:
        await worker.stop()


async def auth_failures(
    connector: BusConnector, source: str, count: int, *, usernames: list[str] | None = None
) -> None:
    """What sip_core's call policy publishes for each refused authentication."""
    bus = connector.bus
    for i in range(count):
        event = SipAuthFailed(
            event_id=str(uuid.uuid4()), at=datetime.now(UTC), node_id="sip-a", zone="z",
            source_address=source, source_port=5060, transport="udp", method="INVITE",
            reason="bad_credentials",
            username=(usernames[i % len(usernames)] if usernames else "1001"),
            user_agent="pbx/1.0", sip_status=407,
        )  # fmt: skip
        await bus.publish_persistent(SIP_AUTH_FAILED_SUBJECT, event, msg_id=event.event_id)


async def rule_for(database: Database, address: str) -> FirewallRule | None:
    async with database.session() as session:
        return await session.scalar(
            select(FirewallRule).where(FirewallRule.network == f"{address}/32")
        )


async def test_auth_failures_escalate_to_a_block_every_node_honours_within_a_second(
    database: Database, connector: BusConnector, worker: IdsWorker
) -> None:
    blocked: list[SourceBlocked] = []
    await connector.bus.subscribe(
        SOURCE_BLOCKED_SUBJECT, lambda msg: _append(blocked, SourceBlocked, msg.data)
    )
    async with live_protection(connector) as first, live_protection(connector) as second:
        await auth_failures(connector, "127.0.0.20", 10)  # at the limit: nothing yet
        await asyncio.sleep(0.5)
        assert first.admit("127.0.0.20")
        assert await rule_for(database, "127.0.0.20") is None

        started = time.monotonic()
        await auth_failures(connector, "127.0.0.20", 1)
        await until(lambda: not first.admit("127.0.0.20") and not second.admit("127.0.0.20"))
        took = time.monotonic() - started
        assert took < 1.0, f"blocked on every node after {took:.3f} s"
        assert first.admit("127.0.0.19")

        rule = await rule_for(database, "127.0.0.20")
        assert rule is not None
        assert rule.source is FirewallSource.AUTOMATIC
        assert rule.action is FirewallAction.BLOCK
        assert rule.offences == 1
        assert rule.evidence["failures"] == 11
        assert rule.evidence["reason"] == "auth_failures"
        assert rule.expires_at is not None
        expected = datetime.now(UTC) + timedelta(seconds=3600)
        assert abs((rule.expires_at - expected).total_seconds()) < 30
        await until(lambda: len(blocked) == 1)
        assert blocked[0].rule_id == str(rule.id)
        assert blocked[0].reason == "auth_failures"

        # The operator unblocks it (what DELETE /v1/firewall-rules/{id} runs).
        started = time.monotonic()
        async with database.session() as session:
            uow = UnitOfWork(session)
            await FirewallService(uow, worker.live).delete(rule.id)
            await uow.commit()
        await until(lambda: first.admit("127.0.0.20") and second.admit("127.0.0.20"))
        took = time.monotonic() - started
        assert took < 1.0, f"unblocked on every node after {took:.3f} s"


async def test_repeat_offenders_are_blocked_longer(
    database: Database, connector: BusConnector, worker: IdsWorker
) -> None:
    await auth_failures(connector, "127.0.0.24", 11)
    await _until_rule(database, "127.0.0.24")
    rule = await rule_for(database, "127.0.0.24")
    assert rule is not None
    async with database.session() as session:  # the block ran out
        stored = await session.get(FirewallRule, rule.id)
        assert stored is not None
        stored.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await session.commit()
    worker.detector._escalated.clear()  # as if past the quiet period
    await auth_failures(connector, "127.0.0.24", 11)

    async def second_offence() -> bool:
        again = await rule_for(database, "127.0.0.24")
        return again is not None and again.offences == 2

    await _until_async(second_offence)
    again = await rule_for(database, "127.0.0.24")
    assert again is not None
    assert again.expires_at is not None
    assert again.expires_at - datetime.now(UTC) > timedelta(hours=3.9)  # 4 h the second time


async def test_username_sweeps_and_scanners_are_blocked(
    database: Database, connector: BusConnector, worker: IdsWorker
) -> None:
    # A REGISTER sweep: five usernames from one source, far below the failure limit.
    await auth_failures(connector, "127.0.0.23", 5, usernames=["100", "101", "102", "103", "104"])
    rule = await _until_rule(database, "127.0.0.23")
    assert rule.evidence["reason"] == "username_enumeration"
    assert rule.evidence["distinct_usernames"] == 5

    # A scanner's real traffic at one node: the node drops it and reports it; the IDS blocks
    # the source on every node (the second one never saw it).
    reporter = SecurityReporter(connector)
    reporter.start()
    try:
        async with (
            live_protection(connector) as first,
            live_protection(connector) as second,
            protected_node(first, Targets(free_port())) as node,
            udp_host("127.0.0.22") as scanner,
        ):
            first.report = reporter.report
            scanner.send(
                node.port, options("127.0.0.22", scanner.port, user_agent="friendly-scanner")
            )
            await until(lambda: not second.admit("127.0.0.22"), within=5.0)
            assert not first.admit("127.0.0.22")
            assert scanner.answers == 0  # never answered
    finally:
        await reporter.stop()
    rule = await _until_rule(database, "127.0.0.22")
    assert rule.evidence["reason"] == "scanner"
    assert rule.evidence["fingerprint"] == "friendly-scanner"


async def test_a_flood_seen_by_one_node_is_dropped_by_all(
    database: Database, connector: BusConnector, worker: IdsWorker
) -> None:
    reporter = SecurityReporter(connector)
    reporter.start()
    try:
        async with (
            live_protection(connector, flood_max_requests=20) as first,
            live_protection(connector) as second,
            protected_node(first, Targets(free_port())) as node,
            udp_host("127.0.0.25") as flooder,
        ):
            first.report = reporter.report
            await flooder.flood(node.port, count=200, per_second=1000)
            await until(lambda: not second.admit("127.0.0.25"), within=5.0)
    finally:
        await reporter.stop()
    rule = await _until_rule(database, "127.0.0.25")
    assert rule.evidence["reason"] == "flood"


async def test_protected_sources_are_reported_not_blocked(
    database: Database, connector: BusConnector, worker: IdsWorker
) -> None:
    withheld: list[BlockWithheld] = []
    await connector.bus.subscribe(
        BLOCK_WITHHELD_SUBJECT, lambda msg: _append(withheld, BlockWithheld, msg.data)
    )
    async with database.session() as session:
        uow = UnitOfWork(session)
        await FirewallService(uow, worker.live).create(
            FirewallRuleCreate(network="127.0.0.21", action=FirewallAction.TRUSTED)
        )
        await uow.commit()
    await auth_failures(connector, "127.0.0.21", 15)
    await until(lambda: len(withheld) == 1, within=5.0)
    assert withheld[0].protected_by == "firewall_trusted"
    assert withheld[0].source_address == "127.0.0.21"
    async with database.session() as session:
        rules = (await session.scalars(select(FirewallRule))).all()
    assert [r.action for r in rules] == [FirewallAction.TRUSTED]


async def _append(into: list, model: type, data: bytes) -> None:  # type: ignore[type-arg]
    into.append(model.from_bytes(data))


async def _until_async(predicate: object, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _until_rule(database: Database, address: str) -> FirewallRule:
    async def present() -> bool:
        return await rule_for(database, address) is not None

    await _until_async(present)
    rule = await rule_for(database, address)
    assert rule is not None
    return rule
