"""Bus over a real nats-server: typed publish/subscribe, request/reply, errors, shutdown."""

from __future__ import annotations

import asyncio
import time

import pytest
from structlog.testing import capture_logs

from libs.bus import (
    Bus,
    BusError,
    BusMessage,
    BusTimeout,
    BusUnavailable,
    Handler,
    MessageDecodeError,
    Msg,
    decode,
)
from libs.platform.natsd import NatsServer, free_port


class SumComputed(BusMessage):
    total: int


class ComputeSum(BusMessage):
    a: int
    b: int


async def _responder(bus: Bus, subject: str, *, queue: str = "") -> None:
    async def handle(msg: Msg) -> None:
        request = decode(msg.data, ComputeSum)
        await bus.respond(msg, SumComputed(total=request.a + request.b))

    await bus.subscribe(subject, handle, queue=queue)


async def test_published_message_arrives_typed(bus: Bus) -> None:
    received: asyncio.Queue[SumComputed] = asyncio.Queue()

    async def handle(msg: Msg) -> None:
        await received.put(decode(msg.data, SumComputed))

    await bus.subscribe("test.sum.computed", handle)
    await bus.nc.flush(timeout=2)
    await bus.publish("test.sum.computed", SumComputed(total=42))
    assert await asyncio.wait_for(received.get(), 2) == SumComputed(total=42)


async def test_request_returns_the_typed_reply(bus: Bus) -> None:
    await _responder(bus, "test.sum.compute")
    reply = await bus.request("test.sum.compute", ComputeSum(a=2, b=3), SumComputed)
    assert reply == SumComputed(total=5)


async def test_request_without_responders_raises_bus_unavailable(bus: Bus) -> None:
    with pytest.raises(BusUnavailable, match="no responders"):
        await bus.request("test.nobody.listens", ComputeSum(a=1, b=1), SumComputed, timeout=1)


async def test_request_unanswered_raises_bus_timeout(bus: Bus) -> None:
    async def ignore(msg: Msg) -> None:
        return None

    await bus.subscribe("test.sum.slow", ignore)
    started = time.monotonic()
    with pytest.raises(BusTimeout):
        await bus.request("test.sum.slow", ComputeSum(a=1, b=1), SumComputed, timeout=0.2)
    assert time.monotonic() - started < 1.5


async def test_a_malformed_reply_raises_message_decode_error(bus: Bus) -> None:
    async def wrong_shape(msg: Msg) -> None:
        await bus.nc.publish(msg.reply, b'{"unexpected": true}')

    await bus.subscribe("test.sum.broken", wrong_shape)
    with pytest.raises(MessageDecodeError, match="SumComputed"):
        await bus.request("test.sum.broken", ComputeSum(a=1, b=1), SumComputed)


async def test_a_failing_handler_is_logged_and_the_subscription_goes_on(bus: Bus) -> None:
    seen: asyncio.Queue[int] = asyncio.Queue()

    async def handle(msg: Msg) -> None:
        total = decode(msg.data, SumComputed).total
        if total == 1:
            raise RuntimeError("boom")
        await seen.put(total)

    await bus.subscribe("test.sum.fragile", handle)
    await bus.nc.flush(timeout=2)
    with capture_logs() as logs:
        await bus.publish("test.sum.fragile", SumComputed(total=1))
        await bus.nc.publish("test.sum.fragile", b"not json")
        await bus.publish("test.sum.fragile", SumComputed(total=2))
        assert await asyncio.wait_for(seen.get(), 2) == 2
    events = [entry["event"] for entry in logs]
    assert "bus.handler_failed" in events
    assert "bus.message_rejected" in events


async def test_a_queue_group_delivers_each_message_to_one_member(bus: Bus) -> None:
    counts = {"a": 0, "b": 0}
    done = asyncio.Event()

    def member(name: str) -> Handler:
        async def handle(msg: Msg) -> None:
            counts[name] += 1
            if sum(counts.values()) == 20:
                done.set()

        return handle

    await bus.subscribe("test.work", member("a"), queue="workers")
    await bus.subscribe("test.work", member("b"), queue="workers")
    await bus.nc.flush(timeout=2)
    for n in range(20):
        await bus.publish("test.work", SumComputed(total=n))
    await asyncio.wait_for(done.wait(), 2)
    await asyncio.sleep(0.05)
    assert sum(counts.values()) == 20


async def test_respond_to_a_message_without_reply_subject_is_refused(bus: Bus) -> None:
    got: asyncio.Queue[Msg] = asyncio.Queue()

    async def keep(msg: Msg) -> None:
        await got.put(msg)

    await bus.subscribe("test.plain", keep)
    await bus.nc.flush(timeout=2)
    await bus.publish("test.plain", SumComputed(total=1))
    msg = await asyncio.wait_for(got.get(), 2)
    with pytest.raises(BusError, match="no reply subject"):
        await bus.respond(msg, SumComputed(total=2))


async def test_missing_bucket_raises_bus_unavailable(bus: Bus) -> None:
    with pytest.raises(BusUnavailable, match="not provisioned"):
        await bus.key_value("no_such_bucket")
    with pytest.raises(BusUnavailable, match="not provisioned"):
        await bus.object_store("no_such_store")


async def test_connect_to_a_dead_port_raises_bus_unavailable_in_bounded_time() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(BusUnavailable, match=r"within 0\.3 s") as err:
        await Bus.connect(f"nats://user:hunter2@127.0.0.1:{port}", name="t", connect_timeout=0.3)
    assert time.monotonic() - started < 2
    assert f"127.0.0.1:{port}" in str(err.value)
    assert "hunter2" not in str(err.value)


async def test_close_drains_pending_work_and_is_idempotent(nats_server: NatsServer) -> None:
    server_side = await Bus.connect(nats_server.url, name="server-side")
    client_side = await Bus.connect(nats_server.url, name="client-side")
    handled: list[int] = []

    async def slow(msg: Msg) -> None:
        await asyncio.sleep(0.05)
        handled.append(decode(msg.data, SumComputed).total)

    try:
        sub = await server_side.subscribe("test.drain", slow)
        await server_side.nc.flush(timeout=2)
        for n in range(5):
            await client_side.publish("test.drain", SumComputed(total=n))
        await client_side.nc.flush(timeout=2)
        # Wait until all five reached server_side (the first being handled, the rest queued).
        for _ in range(100):
            if sub.delivered == 5:
                break
            await asyncio.sleep(0.01)
        received = sub.delivered
        await server_side.close()
        # Drained: every received message was handled.
        assert handled == [0, 1, 2, 3, 4], f"received {received}, handled {handled}"
        assert not server_side.is_connected
        await server_side.close()
        with pytest.raises(BusUnavailable):
            await server_side.publish("test.drain", SumComputed(total=9))
    finally:
        await client_side.close()
        await server_side.close()
