"""Bus messages: compact JSON, tolerant of unknown fields, strict on everything else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from libs.bus import ALL_MESSAGES, BusMessage, MessageDecodeError, NodeHeartbeat, decode


def heartbeat(**overrides: object) -> NodeHeartbeat:
    fields: dict[str, object] = {
        "node_id": "relay-1",
        "role": "rtp_relay",
        "zone": "eu-west",
        "version": "0.1.0",
        "started_at": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        "sent_at": datetime(2026, 1, 1, 12, 5, tzinfo=UTC),
        "load": 0.25,
        "capacity": {"ports_in_use": 48, "ports_total": 10000, "cpu": 0.3},
        "addresses": {"media": "203.0.113.7"},
    }
    fields.update(overrides)
    return NodeHeartbeat.model_validate(fields)


def test_round_trip_keeps_every_field_and_type() -> None:
    original = heartbeat()
    data = original.to_bytes()
    assert isinstance(data, bytes)
    assert b" " not in data.replace(b"eu-west", b"")  # compact JSON
    decoded = NodeHeartbeat.from_bytes(data)
    assert decoded == original
    assert isinstance(decoded.capacity["ports_in_use"], int)
    assert isinstance(decoded.capacity["cpu"], float)
    assert decoded.started_at.tzinfo is not None


def test_decode_ignores_unknown_fields() -> None:
    payload = json.loads(heartbeat().to_bytes())
    payload["added_by_a_newer_producer"] = {"anything": [1, 2]}
    decoded = decode(json.dumps(payload).encode(), NodeHeartbeat)
    assert decoded == heartbeat()
    assert not hasattr(decoded, "added_by_a_newer_producer")


@pytest.mark.parametrize("data", [b"", b"{", b"not json", b"[]", b"null", b"\xff\xfe"])
def test_malformed_payload_raises_message_decode_error(data: bytes) -> None:
    with pytest.raises(MessageDecodeError, match="invalid NodeHeartbeat message"):
        NodeHeartbeat.from_bytes(data)


def test_invalid_fields_are_named_but_the_payload_is_not_quoted() -> None:
    payload = json.loads(heartbeat().to_bytes())
    payload["load"] = 1.5
    payload["role"] = "secret-role-value"
    with pytest.raises(MessageDecodeError) as err:
        NodeHeartbeat.from_bytes(json.dumps(payload))
    text = str(err.value)
    assert "load" in text
    assert "role" in text
    assert "secret-role-value" not in text
    assert err.value.__cause__ is None


def test_naive_datetimes_are_rejected() -> None:
    payload = json.loads(heartbeat().to_bytes())
    payload["sent_at"] = "2026-01-01T12:05:00"
    with pytest.raises(MessageDecodeError, match="sent_at"):
        NodeHeartbeat.from_bytes(json.dumps(payload).encode())


def test_defaults_apply_to_optional_fields() -> None:
    payload = json.loads(heartbeat().to_bytes())
    del payload["draining"], payload["addresses"], payload["capacity"]
    decoded = NodeHeartbeat.from_bytes(json.dumps(payload).encode())
    assert decoded.draining is False
    assert decoded.addresses == {}
    assert decoded.capacity == {}


def test_messages_are_frozen() -> None:
    with pytest.raises(ValidationError):
        heartbeat().load = 0.9  # type: ignore[misc]
    later = heartbeat().model_copy(update={"sent_at": datetime.now(UTC) + timedelta(seconds=1)})
    assert later.node_id == "relay-1"


def test_registry_holds_unique_bus_messages() -> None:
    assert NodeHeartbeat in ALL_MESSAGES
    assert all(issubclass(model, BusMessage) for model in ALL_MESSAGES)
    names = [model.__name__ for model in ALL_MESSAGES]
    assert len(names) == len(set(names))
