"""Node presence: heartbeats in a key-value bucket with a TTL.

Each node keeps one key, ``<role>.<node_id>``, in :data:`~libs.bus.assets.PRESENCE_BUCKET`,
rewritten every couple of seconds by :class:`PresencePublisher`. A node that stops cleanly
withdraws its key (it disappears at once); a node that crashes stops refreshing it and the
bucket's TTL (``AssetSettings.presence_ttl``) removes it. :func:`live_nodes` lists who is there.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable

import structlog
from nats.js.errors import KeyNotFoundError

from libs.bus.assets import PRESENCE_BUCKET
from libs.bus.client import Bus
from libs.bus.errors import _NATS_FAILURES, BusError, MessageDecodeError, _from_nats
from libs.bus.messages import NodeHeartbeat
from libs.bus.tasks import cancel_and_wait

__all__ = [
    "PRESENCE_INTERVAL",
    "PresencePublisher",
    "live_nodes",
    "presence_key",
]

PRESENCE_INTERVAL = 2.0
"""Default seconds between two heartbeats of a node (well under the presence TTL)."""

_JITTER = 0.1  # +-10% on each interval, so a fleet started together does not beat in step
_VALID_KEY = re.compile(r"^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$")  # NATS KV key rules

_log = structlog.get_logger(__name__)


def presence_key(role: str, node_id: str) -> str:
    """The presence key of a node: ``<role>.<node_id>``."""
    return f"{role}.{node_id}"


class PresencePublisher:
    """Write a node's heartbeat into the presence bucket every ``interval`` seconds.

    Usage::

        presence = PresencePublisher(bus, presence_key("rtp_relay", node_id), build_heartbeat)
        presence.start()
        ...
        await presence.stop()  # withdraw: the node disappears at once

    ``heartbeat`` is called on every tick and must return a fresh :class:`NodeHeartbeat` (with
    ``sent_at`` now and the current load). Failures (NATS down, bucket missing, ``heartbeat``
    raising) are logged, once at warning level while they last, and retried on the next tick:
    the publisher never stops by itself.
    """

    def __init__(
        self,
        bus: Bus,
        key: str,
        heartbeat: Callable[[], NodeHeartbeat],
        *,
        interval: float = PRESENCE_INTERVAL,
        bucket: str = PRESENCE_BUCKET,
    ) -> None:
        """Configure the publisher; nothing is sent until :meth:`start`.

        Raises:
            ValueError: ``key`` is not a valid NATS key-value key, or ``interval`` is not
                positive.
        """
        if not _VALID_KEY.match(key):
            raise ValueError(f"invalid presence key {key!r}: use letters, digits, -_/= and dots")
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._bus = bus
        self._key = key
        self._heartbeat = heartbeat
        self._interval = interval
        self._bucket = bucket
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._stopping = False
        self._log = _log.bind(presence_key=key)

    @property
    def key(self) -> str:
        """The node's key in the presence bucket."""
        return self._key

    @property
    def running(self) -> bool:
        """Whether the heartbeat task runs."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start heartbeating in a background task; the first heartbeat goes out at once."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"presence-{self._key}"
            )

    async def publish_now(self) -> bool:
        """Publish one heartbeat now (e.g. when the node starts draining); True if stored."""
        try:
            heartbeat = self._heartbeat()
        except Exception:
            self._log.exception("presence.heartbeat_failed")
            return False
        try:
            kv = await self._bus.key_value(self._bucket)
            await kv.put(self._key, heartbeat.to_bytes())
        except (BusError, *_NATS_FAILURES) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if self._failing:
                self._log.debug("presence.publish_failed", error=error)
            else:
                self._log.warning("presence.publish_failed", error=error)
                self._failing = True
            return False
        if self._failing:
            self._log.info("presence.publish_restored")
            self._failing = False
        return True

    async def stop(self, *, withdraw: bool = True) -> None:
        """Stop heartbeating.

        With ``withdraw`` the key is deleted so the node disappears from :func:`live_nodes` at
        once; without it the entry stays until the bucket's TTL expires it (as after a crash).
        A failed withdrawal is logged, not raised.
        """
        task, self._task = self._task, None
        self._stopping = True
        await cancel_and_wait(task)
        if withdraw:
            try:
                kv = await self._bus.key_value(self._bucket)
                await kv.delete(self._key)
            except (BusError, *_NATS_FAILURES) as exc:
                self._log.warning("presence.withdraw_failed", error=f"{type(exc).__name__}: {exc}")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started = loop.time()
            await self.publish_now()
            jitter = random.uniform(1 - _JITTER, 1 + _JITTER)  # noqa: S311 - not crypto
            elapsed = loop.time() - started
            await asyncio.sleep(max(0.0, self._interval * jitter - elapsed))


async def live_nodes(
    bus: Bus,
    role: str | None = None,
    zone: str | None = None,
    *,
    bucket: str = PRESENCE_BUCKET,
    timeout: float | None = None,  # noqa: ASYNC109 - bounds the whole read, like Bus methods
) -> list[NodeHeartbeat]:
    """The heartbeats currently in the presence bucket, optionally of one role and/or zone.

    Entries that do not decode as :class:`NodeHeartbeat` are skipped (and logged at debug
    level). The result is ordered by key. This reads the bucket on every call (one request for
    the keys, one per key): a hot path should keep its own view instead.

    Raises:
        BusUnavailable: the bucket does not exist or NATS is unreachable.
        BusTimeout: the bucket could not be read within ``timeout`` (default
            ``bus.request_timeout``).
    """
    kv = await bus.key_value(bucket)
    prefix = f"$KV.{bucket}."
    limit = bus.request_timeout if timeout is None else timeout

    async def latest(key: str) -> NodeHeartbeat | None:
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:  # deleted or expired since it was listed
            return None
        try:
            return NodeHeartbeat.from_bytes(entry.value or b"")
        except MessageDecodeError as exc:
            _log.debug("presence.entry_skipped", key=key, reason=str(exc))
            return None

    try:
        async with asyncio.timeout(limit):
            # The stream's per-subject counts list the keys without a consumer. (nats-py's
            # KeyValue.watch() may signal "no more initial values" before delivering them when
            # the server is busy, which would make nodes vanish from the list.)
            info = await bus.js.stream_info(
                f"KV_{bucket}", subjects_filter=prefix + (f"{role}.>" if role else ">")
            )
            keys = sorted(subject[len(prefix) :] for subject in info.state.subjects or {})
            heartbeats = await asyncio.gather(*(latest(key) for key in keys))
    except _NATS_FAILURES as exc:
        raise _from_nats(exc, f"read presence bucket {bucket!r}") from exc
    return [
        heartbeat
        for heartbeat in heartbeats
        if heartbeat is not None
        and (role is None or heartbeat.role == role)
        and (zone is None or heartbeat.zone == zone)
    ]
