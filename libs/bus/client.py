"""The bus client: a thin, typed wrapper over nats-py.

:class:`Bus` adds to nats-py what every Tandem service needs and would otherwise repeat:

- explicit timeouts everywhere (connect, request, JetStream acknowledgement, drain);
- typed messages in and out (:class:`~libs.bus.messages.BusMessage`);
- nats-py's exceptions translated into :mod:`libs.bus.errors`;
- handlers that cannot kill their subscription (an exception is logged, the next message flows);
- connection events logged through structlog, without credentials;
- ``close()`` that drains (in-flight handlers finish, buffered publishes go out) within a bound.

:class:`BusConnector` keeps trying the *first* connection in the background so a service can
start, answer ``/readyz`` with 503 while NATS is down, and become ready when it comes up. Once
connected, nats-py itself reconnects (forever by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from libs.bus.errors import (
    _NATS_FAILURES,
    BusError,
    BusTimeout,
    BusUnavailable,
    MessageDecodeError,
    _from_nats,
)
from libs.bus.messages import BusMessage

__all__ = ["Bus", "BusConnector", "Handler"]

M = TypeVar("M", bound=BusMessage)

Handler = Callable[[Msg], Awaitable[None]]
"""A subscription handler: receives the raw nats ``Msg`` (decode it with ``decode``)."""

MSG_ID_HEADER = "Nats-Msg-Id"  # JetStream de-duplication header

_log = structlog.get_logger(__name__)


def _server_names(urls: list[str]) -> str:
    """``host:port`` of each URL, for logs and errors: never the user:password part."""
    names = []
    for url in urls:
        try:
            parts = urlsplit(url if "://" in url else f"nats://{url}")
            names.append(f"{parts.hostname}:{parts.port or 4222}")
        except ValueError:
            names.append("<invalid url>")
    return ", ".join(names)


class Bus:
    """A connection to NATS speaking typed messages.

    Create one with :meth:`connect` (or :class:`BusConnector`) and close it with :meth:`close`,
    or use it as an async context manager.
    """

    def __init__(
        self, nc: NATS, *, name: str, request_timeout: float, drain_timeout: float
    ) -> None:
        """Wrap an nats-py client; use :meth:`connect` rather than calling this directly."""
        self._nc = nc
        self._name = name
        self._request_timeout = request_timeout
        self._drain_timeout = drain_timeout
        self._js = nc.jetstream(timeout=request_timeout)
        self._kv: dict[str, KeyValue] = {}
        self._obj: dict[str, ObjectStore] = {}
        self._log = _log.bind(bus=name)
        self._ever_connected = False
        self._closing = False

    # -- connection --------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        url: str | list[str],
        *,
        name: str,
        connect_timeout: float = 2.0,
        request_timeout: float = 2.0,
        reconnect: bool = True,
        max_reconnect_attempts: int = -1,
        reconnect_time_wait: float = 2.0,
        ping_interval: float = 20.0,
        drain_timeout: float = 5.0,
        tls: ssl.SSLContext | None = None,
        user_credentials: str | None = None,
    ) -> Bus:
        """Connect to NATS and return a :class:`Bus`.

        The first connection must succeed now: each server of ``url`` gets ``connect_timeout``
        seconds (all together ``connect_timeout * len(url)``), else :class:`BusUnavailable` is
        raised. Once connected, a lost connection is re-established in the background
        (``max_reconnect_attempts`` per server, -1 for ever, ``reconnect_time_wait`` apart);
        publishes made meanwhile are buffered.

        Args:
            url: ``nats://host:port`` or a list of them (a cluster).
            name: the connection's name, shown in NATS monitoring and in logs.
            connect_timeout: seconds for one TCP + TLS + handshake attempt.
            request_timeout: default seconds for requests and JetStream acknowledgements.
            reconnect: whether to reconnect after a lost connection.
            max_reconnect_attempts: reconnect attempts per server; -1 means no limit.
            reconnect_time_wait: seconds between attempts on the same server.
            ping_interval: seconds between keep-alive PINGs; three unanswered PINGs mean the
                connection is stale and is re-established.
            drain_timeout: seconds :meth:`close` allows for draining.
            tls: client TLS context (mutual TLS between zones).
            user_credentials: path of a NATS ``.creds`` file (JWT + nkey seed).

        Raises:
            BusUnavailable: no server accepted the connection in time.
        """
        servers = [url] if isinstance(url, str) else list(url)
        if not servers:
            raise ValueError("no NATS server URL given")
        bus = cls(NATS(), name=name, request_timeout=request_timeout, drain_timeout=drain_timeout)
        options: dict[str, Any] = {
            "servers": servers,
            "name": name,
            "connect_timeout": connect_timeout,
            "allow_reconnect": reconnect,
            "max_reconnect_attempts": max_reconnect_attempts,
            "reconnect_time_wait": reconnect_time_wait,
            "ping_interval": ping_interval,
            "max_outstanding_pings": 3,
            "drain_timeout": drain_timeout,
            "error_cb": bus._on_error,
            "disconnected_cb": bus._on_disconnected,
            "reconnected_cb": bus._on_reconnected,
            "closed_cb": bus._on_closed,
            "lame_duck_mode_cb": bus._on_lame_duck_mode,
        }
        if tls is not None:
            options["tls"] = tls
        if user_credentials is not None:
            options["user_credentials"] = user_credentials
        budget = connect_timeout * len(servers)
        where = _server_names(servers)
        try:
            # nats-py's own first-connection loop never gives up while reconnecting is allowed
            # (it retries every reconnect_time_wait), hence the overall deadline.
            async with asyncio.timeout(budget):
                await bus._nc.connect(**options)
        except TimeoutError:
            await bus._abandon()
            last = bus._nc.last_error
            detail = f"; last error: {type(last).__name__}: {last}" if last else ""
            raise BusUnavailable(
                f"no NATS server accepted a connection within {budget:g} s ({where}){detail}"
            ) from None
        except _NATS_FAILURES as exc:
            await bus._abandon()
            raise BusUnavailable(
                f"could not connect to NATS ({where}): {type(exc).__name__}: {exc}"
            ) from exc
        except BaseException:
            await bus._abandon()
            raise
        bus._ever_connected = True
        bus._log.info("bus.connected", server=bus._server())
        return bus

    async def close(self) -> None:
        """Drain the connection (handlers finish, buffered publishes are sent), then close it.

        Bounded by the ``drain_timeout`` given to :meth:`connect`; idempotent.
        """
        if self._nc.is_closed:
            return
        self._closing = True
        try:
            if self._nc.is_connected:
                try:
                    async with asyncio.timeout(self._drain_timeout + 1.0):
                        await self._nc.drain()
                except _NATS_FAILURES as exc:
                    self._log.warning("bus.drain_failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            await self._nc.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def nc(self) -> NATS:
        """The underlying nats-py client, for what this wrapper does not cover."""
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        """The JetStream context (its default timeout is ``request_timeout``)."""
        return self._js

    @property
    def name(self) -> str:
        """The connection's name."""
        return self._name

    @property
    def request_timeout(self) -> float:
        """Default seconds for requests and JetStream acknowledgements."""
        return self._request_timeout

    @property
    def is_connected(self) -> bool:
        """Whether the connection is up now (False while reconnecting and after close)."""
        return bool(self._nc.is_connected)

    # -- core NATS ---------------------------------------------------------------------------

    async def publish(
        self, subject: str, message: BusMessage, headers: dict[str, str] | None = None
    ) -> None:
        """Publish ``message`` on ``subject`` (at most once; buffered while reconnecting).

        Raises:
            BusUnavailable: the connection is closed or draining.
        """
        try:
            await self._nc.publish(subject, message.to_bytes(), headers=headers)
        except _NATS_FAILURES as exc:
            raise _from_nats(exc, f"publish on {subject!r}") from exc

    async def request(
        self,
        subject: str,
        message: BusMessage,
        reply_type: type[M],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - per-request, as nats-py's own API
    ) -> M:
        """Send a request and return its reply decoded as ``reply_type``.

        Raises:
            BusTimeout: no reply within ``timeout`` (default ``request_timeout``).
            BusUnavailable: nobody subscribes to ``subject``, or the connection is closed.
            MessageDecodeError: the reply is not a valid ``reply_type``.
        """
        what = f"request on {subject!r}"
        try:
            reply = await self._nc.request(
                subject, message.to_bytes(), timeout=self._timeout(timeout)
            )
        except _NATS_FAILURES as exc:
            raise _from_nats(exc, what) from exc
        return reply_type.from_bytes(reply.data)

    async def subscribe(self, subject: str, handler: Handler, *, queue: str = "") -> Subscription:
        """Call ``handler`` for each message on ``subject`` (wildcards allowed).

        With ``queue``, each message goes to one member of the queue group (scaled-out
        consumers). Messages of one subscription are handled one at a time, in order: start a
        task for long work. An exception in ``handler`` is logged (a :class:`MessageDecodeError`
        as a rejected message, anything else with its traceback) and the subscription goes on.

        Raises:
            BusUnavailable: the connection is closed or draining.
        """
        log = self._log.bind(subscription=subject, queue=queue or None)

        async def guarded(msg: Msg) -> None:
            try:
                await handler(msg)
            except MessageDecodeError as exc:
                log.warning("bus.message_rejected", subject=msg.subject, reason=str(exc))
            except Exception:
                log.exception("bus.handler_failed", subject=msg.subject)

        try:
            return await self._nc.subscribe(subject, queue=queue, cb=guarded)
        except _NATS_FAILURES as exc:
            raise _from_nats(exc, f"subscribe to {subject!r}") from exc

    async def respond(self, msg: Msg, message: BusMessage) -> None:
        """Reply to the request ``msg`` with ``message``.

        Raises:
            BusError: ``msg`` carries no reply subject (it was not a request).
            BusUnavailable: the connection is closed.
        """
        if not msg.reply:
            raise BusError(
                f"cannot respond to a message on {msg.subject!r}: it has no reply subject"
            )
        await self.publish(msg.reply, message)

    # -- JetStream ---------------------------------------------------------------------------

    async def publish_persistent(
        self,
        subject: str,
        message: BusMessage,
        *,
        msg_id: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-publish, as nats-py's own API
    ) -> PubAck:
        """Store ``message`` in the JetStream stream capturing ``subject``; return its ack.

        With ``msg_id`` (sent as ``Nats-Msg-Id``) the stream stores a message only once per
        duplicate window: after a :class:`BusTimeout` the outcome is unknown, so retry with the
        same ``msg_id`` (the ack then has ``duplicate=True`` if the first attempt was stored).

        Raises:
            BusTimeout: no acknowledgement within ``timeout`` (default ``request_timeout``).
            BusUnavailable: no stream captures ``subject``, JetStream is down, or the
                connection is closed.
            BusError: JetStream refused the message (e.g. a stream limit).
        """
        headers = {MSG_ID_HEADER: msg_id} if msg_id else None
        try:
            return await self._js.publish(
                subject, message.to_bytes(), timeout=self._timeout(timeout), headers=headers
            )
        except _NATS_FAILURES as exc:
            raise _from_nats(exc, f"persistent publish on {subject!r}") from exc

    async def key_value(self, bucket: str) -> KeyValue:
        """The JetStream key-value bucket ``bucket`` (looked up once, then cached).

        Raises:
            BusUnavailable: the bucket does not exist (not provisioned) or NATS is unreachable.
        """
        return await _cached(self._kv, bucket, self._js.key_value, "key-value bucket")

    async def object_store(self, name: str) -> ObjectStore:
        """The JetStream object store ``name`` (looked up once, then cached).

        Raises:
            BusUnavailable: the store does not exist (not provisioned) or NATS is unreachable.
        """
        return await _cached(self._obj, name, self._js.object_store, "object store")

    # -- internals ---------------------------------------------------------------------------

    def _timeout(self, timeout: float | None) -> float:
        return self._request_timeout if timeout is None else timeout

    def _server(self) -> str | None:
        url = self._nc.connected_url
        return f"{url.hostname}:{url.port}" if url is not None else None

    async def _abandon(self) -> None:
        """Release a client whose first connection failed (sockets, tasks), logging nothing."""
        self._closing = True
        with contextlib.suppress(*_NATS_FAILURES):
            await self._nc.close()

    async def _on_error(self, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if not self._ever_connected or not self._nc.is_connected:
            # Failed attempts while (re)connecting are expected; the disconnect was logged.
            self._log.debug("bus.connect_attempt_failed", error=error)
        else:
            self._log.warning("bus.error", error=error)

    async def _on_disconnected(self) -> None:
        if self._ever_connected and not self._closing:
            self._log.warning("bus.disconnected")

    async def _on_reconnected(self) -> None:
        self._log.info("bus.reconnected", server=self._server())

    async def _on_closed(self) -> None:
        if self._ever_connected:
            self._log.info("bus.closed")

    async def _on_lame_duck_mode(self) -> None:
        self._log.warning("bus.server_lame_duck_mode", server=self._server())


class BusConnector:
    """Keep trying the first connection to NATS in the background.

    nats-py reconnects only after a first success; a service must nevertheless start while NATS
    is down (and serve ``/readyz`` 503 meanwhile). Usage::

        connector = BusConnector(settings.nats_url, name="sip_core")
        connector.start()
        ...  # /readyz answers 503 until connector.connected
        bus = await connector.wait_connected()
        ...
        await connector.close()

    Attempts back off exponentially from ``backoff_initial`` to ``backoff_max`` seconds
    (jittered, so a fleet restarting together does not retry in step).
    """

    def __init__(
        self,
        url: str | list[str],
        *,
        name: str,
        backoff_initial: float = 0.25,
        backoff_max: float = 10.0,
        connect_timeout: float = 2.0,
        request_timeout: float = 2.0,
        ping_interval: float = 20.0,
        drain_timeout: float = 5.0,
        tls: ssl.SSLContext | None = None,
        user_credentials: str | None = None,
    ) -> None:
        """Configure the connector; nothing happens until :meth:`start`.

        The connection options are those of :meth:`Bus.connect` (reconnecting for ever once
        connected).
        """
        if backoff_initial <= 0 or backoff_max < backoff_initial:
            raise ValueError("need 0 < backoff_initial <= backoff_max")
        self._url = url
        self._name = name
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._ping_interval = ping_interval
        self._drain_timeout = drain_timeout
        self._tls = tls
        self._user_credentials = user_credentials
        self._bus: Bus | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._log = _log.bind(bus=name)

    def start(self) -> None:
        """Start connecting in a background task (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"bus-connector-{self._name}"
            )

    @property
    def connected(self) -> bool:
        """Whether the bus is connected now (False before the first connection and while
        reconnecting): what ``/readyz`` reports."""
        return self._bus is not None and self._bus.is_connected

    @property
    def bus(self) -> Bus:
        """The bus, once the first connection succeeded.

        Raises:
            BusUnavailable: not connected yet.
        """
        if self._bus is None:
            raise BusUnavailable("not connected to NATS yet")
        return self._bus

    async def wait_connected(self, timeout: float | None = None) -> Bus:  # noqa: ASYNC109
        """Wait for the first connection and return the bus.

        Raises:
            BusTimeout: not connected within ``timeout`` seconds (None waits for ever).
        """
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            raise BusTimeout(f"not connected to NATS within {timeout:g} s") from None
        return self.bus

    async def close(self) -> None:
        """Stop connecting, and close the bus if it connected."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        bus, self._bus = self._bus, None
        self._ready.clear()
        if bus is not None:
            await bus.close()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _run(self) -> None:
        delay = self._backoff_initial
        attempt = 0
        last_error = ""
        while True:
            attempt += 1
            try:
                bus = await Bus.connect(
                    self._url,
                    name=self._name,
                    connect_timeout=self._connect_timeout,
                    request_timeout=self._request_timeout,
                    ping_interval=self._ping_interval,
                    drain_timeout=self._drain_timeout,
                    tls=self._tls,
                    user_credentials=self._user_credentials,
                )
            except Exception as exc:
                error = str(exc) if isinstance(exc, BusUnavailable) else repr(exc)
                # Warn on the first failure and whenever the reason changes; not every attempt.
                log = self._log.warning if error != last_error else self._log.debug
                log("bus.connect_failed", attempt=attempt, error=error, retry_in=round(delay, 2))
                last_error = error
                jitter = random.uniform(0.8, 1.2)  # noqa: S311 - spreading retries, not crypto
                await asyncio.sleep(delay * jitter)
                delay = min(self._backoff_max, delay * 2)
                continue
            self._bus = bus
            self._ready.set()
            return


_Asset = TypeVar("_Asset")


async def _cached(
    cache: dict[str, _Asset],
    name: str,
    open_asset: Callable[[str], Awaitable[_Asset]],
    what: str,
) -> _Asset:
    """``cache[name]``, opening the JetStream asset on first use."""
    asset = cache.get(name)
    if asset is None:
        try:
            asset = await open_asset(name)
        except BucketNotFoundError:
            raise BusUnavailable(
                f"{what} {name!r} does not exist (assets not provisioned?)"
            ) from None
        except _NATS_FAILURES as exc:
            raise _from_nats(exc, f"open {what} {name!r}") from exc
        cache[name] = asset
    return asset
