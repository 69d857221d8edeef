"""provision(): every asset on file storage, idempotent, updated in place where NATS allows."""

from __future__ import annotations

import pytest
from nats.js.api import StorageType, StreamConfig

from libs.bus import (
    BLOB_STORE,
    CDR_STREAM,
    CONFIG_BUCKET,
    PRESENCE_BUCKET,
    REGISTRATIONS_BUCKET,
    SECURITY_STREAM,
    AssetConflict,
    AssetSettings,
    Bus,
    BusMessage,
    BusUnavailable,
    provision,
)


@pytest.fixture
def bus(jetstream_bus: Bus) -> Bus:
    """Every test here changes JetStream assets: give each a server of its own."""
    return jetstream_bus


STREAMS = {
    CDR_STREAM: CDR_STREAM,
    SECURITY_STREAM: SECURITY_STREAM,
    CONFIG_BUCKET: f"KV_{CONFIG_BUCKET}",
    PRESENCE_BUCKET: f"KV_{PRESENCE_BUCKET}",
    REGISTRATIONS_BUCKET: f"KV_{REGISTRATIONS_BUCKET}",
    BLOB_STORE: f"OBJ_{BLOB_STORE}",
}


class CallEnded(BusMessage):
    call_id: str
    duration: float


async def _configs(bus: Bus) -> dict[str, StreamConfig]:
    return {name: (await bus.js.stream_info(stream)).config for name, stream in STREAMS.items()}


async def test_provision_creates_every_asset_on_file_storage(bus: Bus) -> None:
    await provision(bus.js)
    configs = await _configs(bus)
    assert all(config.storage == StorageType.FILE for config in configs.values())
    assert configs[CDR_STREAM].subjects == ["cdr.>"]
    assert configs[SECURITY_STREAM].subjects == ["security.>"]
    assert configs[CDR_STREAM].duplicate_window == 3600
    assert configs[SECURITY_STREAM].duplicate_window == 3600
    assert configs[CDR_STREAM].max_age == 14 * 86400
    assert configs[PRESENCE_BUCKET].max_age == 10
    assert configs[REGISTRATIONS_BUCKET].max_age == 7200
    assert configs[REGISTRATIONS_BUCKET].max_msgs_per_subject == 1
    assert configs[CONFIG_BUCKET].max_msgs_per_subject == 5
    # And they work through the accessors.
    kv = await bus.key_value(CONFIG_BUCKET)
    await kv.put("zone.1", b"{}")
    store = await bus.object_store(BLOB_STORE)
    await store.put("ratecard.1", b"compiled")
    assert (await store.get("ratecard.1")).data == b"compiled"


async def test_provision_twice_is_a_no_op(bus: Bus) -> None:
    await provision(bus.js)
    before = await _configs(bus)
    await provision(bus.js)
    assert await _configs(bus) == before


async def test_provision_updates_a_stream_with_another_duplicate_window(bus: Bus) -> None:
    await bus.js.add_stream(
        name=CDR_STREAM, subjects=["cdr.>"], storage=StorageType.FILE, duplicate_window=60
    )
    await bus.publish_persistent("cdr.call.ended", CallEnded(call_id="kept", duration=1.0))
    await provision(bus.js)
    info = await bus.js.stream_info(CDR_STREAM)
    assert info.config.duplicate_window == 3600
    assert info.config.max_age == 14 * 86400
    assert info.state.messages == 1  # updated in place, not recreated


async def test_provision_follows_changed_settings(bus: Bus) -> None:
    await provision(bus.js)
    await provision(bus.js, AssetSettings(presence_ttl=1.5, config_history=10))
    configs = await _configs(bus)
    assert configs[PRESENCE_BUCKET].max_age == 1.5
    assert configs[PRESENCE_BUCKET].duplicate_window == 1.5
    assert configs[CONFIG_BUCKET].max_msgs_per_subject == 10


async def test_provision_reports_what_nats_cannot_update(bus: Bus) -> None:
    await bus.js.add_stream(
        name=SECURITY_STREAM, subjects=["security.>"], storage=StorageType.MEMORY
    )
    with pytest.raises(AssetConflict, match="storage is 'memory', want 'file'") as err:
        await provision(bus.js)
    assert "can not change storage type" in str(err.value)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="presence_ttl"):
        AssetSettings(presence_ttl=0)
    with pytest.raises(ValueError, match="duplicate_window"):
        AssetSettings(duplicate_window=30 * 86400)


async def test_a_duplicated_persistent_publish_is_stored_once(bus: Bus) -> None:
    await provision(bus.js)
    cdr = CallEnded(call_id="a84b4c76e66710", duration=63.2)
    first = await bus.publish_persistent("cdr.call.ended", cdr, msg_id=cdr.call_id)
    again = await bus.publish_persistent("cdr.call.ended", cdr, msg_id=cdr.call_id)
    other = await bus.publish_persistent(
        "cdr.call.ended", CallEnded(call_id="other", duration=1.0), msg_id="other"
    )
    assert first.stream == CDR_STREAM
    assert not first.duplicate
    assert again.duplicate
    assert again.seq == first.seq
    assert other.seq == first.seq + 1
    info = await bus.js.stream_info(CDR_STREAM)
    assert info.state.messages == 2


async def test_persistent_publish_without_a_stream_raises_bus_unavailable(bus: Bus) -> None:
    with pytest.raises(BusUnavailable, match="no JetStream stream"):
        await bus.publish_persistent("nowhere.stored", CallEnded(call_id="x", duration=0))
