"""Keeping a node's :class:`~services.sip_core.protection.guard.Protection` current.

:class:`LiveProtection` reads the live configuration (``firewall``, ``ipauth``, ``customer``,
``sipuser``, ``settings``) from a :class:`~libs.liveconfig.ConfigView` — the node's shared view:
give it the view and call :meth:`LiveProtection.on_change` from the view's ``on_change`` — and
rebuilds the immutable :class:`SourceIndex` on every relevant change, so a block or an unblock
published by switch_api applies within the watch's latency (milliseconds). It also rebuilds at
the instant the earliest firewall rule expires (nodes honour ``expires_at`` themselves, even cut
off from NATS), and follows the presence bucket so the platform's own nodes are never
flood-banned.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from libs.bus import BusConnector, live_nodes
from libs.liveconfig import Change
from libs.liveconfig.models import SETTINGS_ID, SettingsConfig
from services.sip_core.protection.guard import Protection
from services.sip_core.protection.index import SourceIndex

__all__ = ["KINDS", "ConfigSource", "LiveProtection", "presence_hosts"]

_log = structlog.get_logger(__name__)

#: The configuration kinds the security plane reads.
KINDS = frozenset({"firewall", "ipauth", "customer", "sipuser", "settings"})
PRESENCE_POLL = 5.0
HOUSEKEEPING_INTERVAL = 5.0
_UNSPECIFIED = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - compared, never bound


class ConfigSource(Protocol):
    """What :class:`LiveProtection` reads (a :class:`~libs.liveconfig.ConfigView`)."""

    def all(self, kind: str) -> Mapping[Any, Any]: ...


def presence_hosts(addresses: Iterable[str]) -> set[str]:
    """The hosts of ``host:port`` / ``[v6]:port`` presence addresses (unspecified ones left out)."""
    hosts: set[str] = set()
    for address in addresses:
        host = address.rsplit(":", 1)[0] if address.count(":") == 1 else address
        if host.startswith("["):
            host = host[1:].partition("]")[0]
        if host not in _UNSPECIFIED:
            hosts.add(host)
    return hosts


class LiveProtection:
    """Feeds a :class:`Protection` from the live configuration and the presence bucket."""

    def __init__(
        self,
        protection: Protection,
        view: ConfigSource,
        *,
        trusted: Iterable[str] = (),
    ) -> None:
        self.protection = protection
        self.view = view
        self.trusted = tuple(trusted)
        self.platform: frozenset[str] = frozenset()
        self.rebuilds = 0
        self._expiry: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- inputs ------------------------------------------------------------------------------

    def on_change(self, changes: list[Change]) -> None:
        """The view's ``on_change`` (or part of it): rebuild if a kind we read changed."""
        if any(change.kind in KINDS for change in changes):
            self.rebuild()

    def set_platform(self, hosts: Iterable[str]) -> None:
        """The platform's own node addresses (exempt from flood protection)."""
        platform = frozenset(hosts)
        if platform != self.platform:
            self.platform = platform
            self.rebuild()

    # -- building ----------------------------------------------------------------------------

    def _objects(self, kind: str) -> Mapping[Any, Any]:
        try:
            return self.view.all(kind)
        except KeyError:  # the view was not given this kind
            return {}

    def rebuild(self) -> None:
        now = datetime.now(UTC)
        settings = self._objects("settings").get(SETTINGS_ID)
        if isinstance(settings, SettingsConfig):
            self.protection.configure(settings)
        index = SourceIndex(
            firewall=self._objects("firewall").values(),
            ipauth=self._objects("ipauth").values(),
            customers=dict(self._objects("customer")),
            sipusers=self._objects("sipuser").values(),
            platform=self.platform,
            trusted=self.trusted,
            now=now,
        )
        self.protection.swap(index)
        self.rebuilds += 1
        self._arm_expiry(index, now)

    def _arm_expiry(self, index: SourceIndex, now: datetime) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if index.next_expiry is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # built outside a loop (tests): nothing to schedule
        delay = max(0.0, (index.next_expiry - now).total_seconds()) + 0.001
        self._expiry = loop.call_later(delay, self.rebuild)

    # -- running -----------------------------------------------------------------------------

    def start(self, connector: BusConnector | None = None) -> None:
        """Build now, then keep house (ended bans) and follow presence through ``connector``."""
        self.rebuild()
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="protection-house"))
        if connector is not None:
            self._tasks.append(
                asyncio.create_task(self._follow_presence(connector), name="protection-presence")
            )

    async def stop(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            self.protection.housekeeping()

    async def _follow_presence(self, connector: BusConnector) -> None:
        while True:
            bus = await connector.wait_connected()
            try:
                nodes = await live_nodes(bus, timeout=5.0)
            except Exception as exc:
                _log.debug("presence not read", error=str(exc))
            else:
                self.set_platform(
                    presence_hosts(a for node in nodes for a in node.addresses.values())
                )
            await asyncio.sleep(PRESENCE_POLL)
