"""CDRs reach the CDR stream exactly once, through NATS outages and restarts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from libs.bus import CDR_STREAM, Bus, BusConnector, provision
from libs.bus.cdr import CDR_SUBJECT, CallEnded, ReleasedBy, ReleaseReason
from libs.platform.natsd import NatsServer
from services.sip_core.cdr import CdrSender, CdrSpool


def cdr(**overrides: object) -> CallEnded:
    now = datetime.now(UTC)
    fields: dict[str, object] = {
        "call_id": uuid.uuid4().hex,
        "sip_call_id": f"{uuid.uuid4().hex}@pbx",
        "node_id": "sip-1",
        "zone": "eu",
        "source_address": "127.0.0.2:5060",
        "callee_received": "4930123456",
        "sell_rate": Decimal("0.012"),
        "started_at": now,
        "ended_at": now,
        "sip_code": 200,
        "release_reason": ReleaseReason.NORMAL,
        "released_by": ReleasedBy.CALLER,
    }
    return CallEnded.model_validate({**fields, **overrides})


async def stored(bus: Bus) -> list[CallEnded]:
    """Every CDR in the stream, in order."""
    info = await bus.js.stream_info(CDR_STREAM)
    return [
        CallEnded.from_bytes((await bus.js.get_msg(CDR_STREAM, seq)).data or b"")
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
        if info.state.messages
    ]


async def eventually(predicate: object, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await predicate():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.fixture
def server(tmp_path: Path) -> NatsServer:
    return NatsServer(store_dir=tmp_path / "js", port=0)


@pytest.fixture
async def connector(server: NatsServer) -> AsyncIterator[BusConnector]:
    server.start()
    connector = BusConnector(server.url, name="cdr-test", backoff_max=0.3)
    connector.start()
    await provision((await connector.wait_connected(5)).js)
    try:
        yield connector
    finally:
        await connector.close()
        server.stop()


async def test_a_cdr_is_stored_once_even_if_sent_twice(
    connector: BusConnector, tmp_path: Path
) -> None:
    sender = CdrSender(connector, CdrSpool(tmp_path / "spool"))
    record = cdr()
    await sender.send(record)
    await sender.send(record)  # e.g. a retry after a timeout whose first try was stored
    assert await stored(connector.bus) == [record]


async def test_cdrs_survive_an_outage_in_order_and_once(
    server: NatsServer, connector: BusConnector, tmp_path: Path
) -> None:
    spool = CdrSpool(tmp_path / "spool", segment_records=7)
    sender = CdrSender(connector, spool, drain_interval=0.1)
    sender.start()
    try:
        before = cdr()
        await sender.send(before)

        port = server.port
        server.stop()
        during = [cdr(callee_received=f"44{i:08d}") for i in range(20)]
        for record in during:
            await sender.send(record)  # NATS is down: these go to disk
        assert spool.backlog == 20
        assert len(list((tmp_path / "spool").glob("*.cdr"))) == 3

        restarted = NatsServer(store_dir=server.store_dir, port=port)
        restarted.start()
        try:
            after = cdr()

            async def delivered() -> bool:
                return connector.connected and spool.backlog == 0

            await eventually(delivered, within=20)
            await sender.send(after)
            records = await stored(connector.bus)
            assert records == [before, *during, after]
            assert not list((tmp_path / "spool").glob("*.cdr"))
        finally:
            await sender.stop()
            await connector.close()
            restarted.stop()
    finally:
        await sender.stop()


async def test_a_spool_left_by_a_stopped_node_is_sent_by_the_next_one(
    connector: BusConnector, tmp_path: Path
) -> None:
    first = CdrSpool(tmp_path / "spool")
    waiting = [cdr() for _ in range(3)]
    for record in waiting:
        first.append(record)

    again = CdrSpool(tmp_path / "spool")  # a new process over the same folder
    assert again.backlog == 3
    sent = await CdrSender(connector, again).drain()
    assert sent == 3
    assert await stored(connector.bus) == waiting


async def test_a_torn_line_is_set_aside_not_lost_with_the_rest(
    connector: BusConnector, tmp_path: Path
) -> None:
    spool = CdrSpool(tmp_path / "spool")
    good = [cdr(), cdr()]
    spool.append(good[0])
    spool.append(good[1])
    segment = next((tmp_path / "spool").glob("*.cdr"))
    with segment.open("ab") as f:
        f.write(b'{"call_id": "cut-off-by-a-cr')  # a crash mid-write

    again = CdrSpool(tmp_path / "spool")
    assert await CdrSender(connector, again).drain() == 2
    assert await stored(connector.bus) == good
    assert segment.with_suffix(".bad").read_bytes().startswith(b'{"call_id": "cut-off')


def test_cdr_subject_is_captured_by_the_cdr_stream() -> None:
    from libs.bus import CDR_SUBJECTS

    assert any(CDR_SUBJECT.startswith(s.rstrip(">")) for s in CDR_SUBJECTS)
