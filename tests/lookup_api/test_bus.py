"""lookup_api on a real nats-server: datasets reloaded atomically under load, and the
request/reply interface shared by replicas in a queue group."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from libs.bus import BusConnector, provision
from libs.bus.lookup import LookedUp, LookUp, lookup_subject
from libs.liveconfig import ConfigPublisher
from libs.lookup import DatasetBuilder, DatasetKind, sort_rows
from libs.platform.natsd import NatsServer
from services.lookup_api.responder import LookupResponder
from services.lookup_api.state import LookupState
from tests.lookup_api.factories import client, lookup_app, make_key, state_of

ROWS = 20_000
FIRST = 12_125_500_000


async def eventually(predicate: Callable[[], bool], within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def lrn_blob(dataset_id: uuid.UUID, generation: int) -> bytes:
    """``ROWS`` numbers, every one ported to the LRN ``1999000000<generation>``."""
    builder = DatasetBuilder(DatasetKind.LRN)
    for n in range(ROWS):
        builder.add_lrn(FIRST + n, 19990000000 + generation, f"gen{generation}")
    order, _ = sort_rows(builder.keys)
    return builder.compile({"id": str(dataset_id), "name": "npac"}, order)


@pytest.fixture
async def connector(tmp_path: Path) -> AsyncIterator[BusConnector]:
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        connector = BusConnector(server.url, name="lookup-test")
        connector.start()
        try:
            await provision((await connector.wait_connected(5)).js)
            yield connector
        finally:
            await connector.close()


async def test_a_dataset_reload_is_atomic_under_concurrent_requests(
    connector: BusConnector,
) -> None:
    publisher = ConfigPublisher(connector)
    dataset_id = uuid.uuid4()
    await publisher.put_blob("lrn", dataset_id, lrn_blob(dataset_id, 1), version=1)
    key, config = make_key()
    await publisher.publish(put=[config])

    app = lookup_app()
    state = state_of(app)
    state.attach(connector)
    state.start()
    try:
        await eventually(lambda: bool(state.snapshot.lrn) and bool(state.snapshot.keys))
        numbers = [f"+{FIRST + n}" for n in range(0, ROWS, ROWS // 50)]
        seen: set[str] = set()
        stop = asyncio.Event()

        async def hammer() -> int:
            answered = 0
            async with client(app) as http:
                http.headers["X-API-Key"] = key
                while not stop.is_set():
                    batch = await http.post("/v1/batch", json={"lookup": "lrn", "numbers": numbers})
                    single = await http.get(f"/v1/lrn/{numbers[-1]}")
                    assert batch.status_code == 200, batch.text
                    assert single.status_code == 200, single.text
                    lrns = {item["result"]["lrn"] for item in batch.json()["items"]}
                    assert len(lrns) == 1, f"a batch saw two datasets at once: {lrns}"
                    assert single.json()["found"] is True
                    seen.update(lrns)
                    answered += 1
                    await asyncio.sleep(0)
            return answered

        workers = [asyncio.create_task(hammer()) for _ in range(4)]
        for generation in range(2, 6):
            await publisher.put_blob(
                "lrn", dataset_id, lrn_blob(dataset_id, generation), version=generation
            )
            expected = str(19990000000 + generation)
            await eventually(lambda: state.snapshot.lrn[0].get(str(FIRST)).lrn == expected)  # noqa: B023
        stop.set()
        answered = sum(await asyncio.gather(*workers))
        assert answered > 10
        assert len(seen) >= 2  # requests ran across reloads
        assert len(state.snapshot.lrn) == 1  # the new version replaced the old one
    finally:
        await state.stop()


async def test_nats_requests_are_answered_by_the_replicas_of_a_queue_group(
    connector: BusConnector,
) -> None:
    states = [LookupState(), LookupState()]
    responders = [
        LookupResponder(connector, state, node_id=f"node-{n}") for n, state in enumerate(states)
    ]
    for responder in responders:
        responder.start()
    try:
        for responder in responders:
            await asyncio.wait_for(responder.ready.wait(), 5)
        bus = connector.bus
        request = LookUp(numbers=["+442079460018", "nonsense"], include=["dnc"])
        nodes = set()
        for _ in range(40):
            reply = await bus.request(lookup_subject("number"), request, LookedUp, timeout=5)
            nodes.add(reply.node_id)
            first, second = reply.items
            assert first.result is not None
            assert (first.result["region"], first.result["dnc"]["listed"]) == ("GB", False)
            assert second.error is not None
            assert second.error.status == 400
        assert nodes == {"node-0", "node-1"}  # NATS spread the requests over both replicas

        route = await bus.request(
            lookup_subject("route"), LookUp(numbers=["4420"]), LookedUp, timeout=5
        )
        assert route.items[0].error is not None
        assert "customer_id" in route.items[0].error.detail
        unknown = await bus.request("lookup.weather", LookUp(numbers=["1"]), LookedUp, timeout=5)
        assert unknown.error is not None
        assert unknown.error.status == 404
        raw = await bus.nc.request("lookup.number", b"{not json", timeout=5)
        assert LookedUp.from_bytes(raw.data).error is not None
    finally:
        for responder in responders:
            await responder.stop()
