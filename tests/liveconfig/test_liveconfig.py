"""Live configuration over a real nats-server: publish after commit, watch, reconcile, blobs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import ClassVar

import pytest

from libs.bus import BusConnector, provision
from libs.liveconfig import BlobPointer, Change, ConfigObject, ConfigPublisher, ConfigView
from libs.platform.natsd import NatsServer


class Widget(ConfigObject):
    kind: ClassVar[str] = "widget"
    name: str
    channels: int = 0


@pytest.fixture
async def connector(tmp_path: Path) -> AsyncIterator[BusConnector]:
    """A connector to a server of this test's own, with Tandem's assets provisioned."""
    with NatsServer(store_dir=tmp_path / "js", port=0) as server:
        connector = BusConnector(server.url, name="liveconfig-test")
        connector.start()
        try:
            await provision((await connector.wait_connected(5)).js)
            yield connector
        finally:
            await connector.close()


async def eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_watching_view_sees_creates_updates_and_deletes(connector: BusConnector) -> None:
    publisher = ConfigPublisher(connector)
    before = Widget(id=uuid.uuid4(), name="existing", version=1)
    assert await publisher.publish(put=[before])

    changes: list[Change] = []
    view = ConfigView(connector, {"widget": Widget}, on_change=changes.extend)
    view.start()
    try:
        await asyncio.wait_for(view.loaded.wait(), 5)
        assert view.get("widget", before.id) == before  # the initial load

        created = Widget(id=uuid.uuid4(), name="new", channels=10, version=1)
        await publisher.publish(put=[created])
        await eventually(lambda: view.get("widget", created.id) == created)

        updated = created.model_copy(update={"channels": 20, "version": 2})
        await publisher.publish(put=[updated])
        await eventually(lambda: view.get("widget", created.id) == updated)

        stale = created.model_copy(update={"channels": 5, "version": 1})
        await publisher.publish(put=[stale], delete=[("widget", before.id)])
        await eventually(lambda: view.get("widget", before.id) is None)
        assert view.get("widget", created.id) == updated  # an older version never wins

        kinds = [(c.old is None, c.new is None) for c in changes if c.id == created.id]
        assert kinds == [(True, False), (False, False)]
    finally:
        await view.stop()


async def test_reconcile_brings_the_bucket_in_line(connector: BusConnector) -> None:
    publisher = ConfigPublisher(connector)
    keep = Widget(id=uuid.uuid4(), name="keep")
    gone = Widget(id=uuid.uuid4(), name="gone")
    changed = Widget(id=uuid.uuid4(), name="old name")
    await publisher.publish(put=[keep, gone, changed])

    renamed = changed.model_copy(update={"name": "new name"})
    missing = Widget(id=uuid.uuid4(), name="never published")
    report = await publisher.reconcile([keep, renamed, missing], kinds={"widget"})

    assert sorted(report.written) == sorted([renamed.key, missing.key])
    assert report.deleted == [gone.key]
    assert report.unchanged == 1
    again = await publisher.reconcile([keep, renamed, missing], kinds={"widget"})
    assert (again.written, again.deleted, again.unchanged) == ([], [], 3)


async def test_publishing_without_nats_fails_softly() -> None:
    publisher = ConfigPublisher(None)
    assert await publisher.publish(put=[Widget(id=uuid.uuid4(), name="x")]) is False


async def test_blobs_load_whole_and_replace_atomically(connector: BusConnector) -> None:
    publisher = ConfigPublisher(connector)
    card = uuid.uuid4()
    loaded: list[BlobPointer] = []

    def load(data: bytes, pointer: BlobPointer) -> dict[str, str]:
        loaded.append(pointer)
        return dict(line.split("=") for line in data.decode().splitlines())

    view = ConfigView(connector, {}, blobs={"ratecard": load})
    view.start()
    try:
        await asyncio.wait_for(view.loaded.wait(), 5)
        big = "\n".join(f"{44000 + i}=0.{i:04d}" for i in range(20_000)).encode()
        await publisher.put_blob("ratecard", card, big, version=1)
        await eventually(lambda: view.get("ratecard", card) is not None)
        assert len(view.get("ratecard", card)) == 20_000

        await publisher.put_blob("ratecard", card, b"44=0.1", version=2)
        await eventually(lambda: view.get("ratecard", card) == {"44": "0.1"})
        assert [p.version for p in loaded] == [1, 2]
    finally:
        await view.stop()


async def test_the_view_keeps_its_last_configuration_while_nats_is_away(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = NatsServer(store_dir=tmp_path_factory.mktemp("restart") / "js", port=0)
    server.start()
    port = server.port
    connector = BusConnector(server.url, name="outage-test", backoff_max=0.5)
    connector.start()
    view = ConfigView(connector, {"widget": Widget})
    try:
        bus = await connector.wait_connected(5)
        await provision(bus.js)
        publisher = ConfigPublisher(connector)
        first = Widget(id=uuid.uuid4(), name="before the outage")
        doomed = Widget(id=uuid.uuid4(), name="deleted during the outage")
        await publisher.publish(put=[first, doomed])
        view.start()
        await asyncio.wait_for(view.loaded.wait(), 5)

        server.stop()
        await eventually(lambda: not view.live, within=15)
        assert view.get("widget", first.id) == first  # last-good still served

        server = NatsServer(store_dir=server.store_dir, port=port)
        server.start()
        await eventually(lambda: view.live, within=20)
        # Back on line, the view follows new writes again.
        later = Widget(id=uuid.uuid4(), name="after the outage")
        await publisher.publish(put=[later], delete=[("widget", doomed.id)])
        await eventually(
            lambda: view.get("widget", later.id) == later and view.get("widget", doomed.id) is None,
            within=10,
        )
        assert view.get("widget", first.id) == first

        # Changes made while the view was not watching are caught up on its next start.
        await view.stop()
        await publisher.publish(delete=[("widget", later.id)])
        view.start()
        await eventually(lambda: view.live and view.get("widget", later.id) is None, within=10)
        assert view.get("widget", first.id) == first
    finally:
        await view.stop()
        await connector.close()
        server.stop()
