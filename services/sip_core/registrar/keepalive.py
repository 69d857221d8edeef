"""NAT keep-alives to registered SIP users, and the lapse of bindings — one timer for all.

Per SIP user (``nat_ping``, as the reference's "NAT/SIP Ping"):

- ``disabled``: nothing is sent;
- ``enabled``: every ``ping_interval`` an OPTIONS (or a CRLF keep-alive, RFC 5626 §4.4.1, when
  ``keepalive = "crlf"``) goes to the binding's target, keeping the NAT's mapping open; answers
  are not required;
- ``enabled_timeout``: the same with OPTIONS, and a ping left unanswered for ``ping_timeout``
  seconds (or that cannot be sent) removes the binding: the phone is gone. Any response counts
  as an answer (a 405 or 404 proves the UA is there as well as a 200).

Only the node holding a binding pings it (its address is the one the NAT opened for). The work
is kept cheap for many bindings: due times sit in heaps (pings, ping deadlines, expiries) that a
single loop timer, every ``sweep_interval``, pops as far as the current time; a changed or removed
binding leaves a stale heap entry that is skipped when popped, never searched for. Lapsed
bindings are removed here: this node's from the bucket too, other nodes' only from the view
(their node deletes them; the bucket's TTL if that node died).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from prometheus_client import Counter

from libs.bus.registrations import Registration
from services.sip_core.b2bua.hooks import Outgoing
from services.sip_core.config import RegistrarSettings
from services.sip_core.policy.live import LivePolicy
from services.sip_core.registrar.bindings import BindingStore
from services.sip_core.sip import (
    ClientTransaction,
    Peer,
    Request,
    Response,
    new_branch,
    new_tag,
)
from services.sip_core.stack import SipStack

__all__ = ["Keepalive"]

_log = structlog.get_logger(__name__)

PINGS = Counter("tandem_registrar_pings_total", "NAT keep-alives by outcome", ["outcome"])
_SENT, _ANSWERED, _LOST = PINGS.labels("sent"), PINGS.labels("answered"), PINGS.labels("lost")
REMOVED = Counter("tandem_registrar_bindings_removed_total", "Bindings removed", ["why"])
_EXPIRED, _UNANSWERED = REMOVED.labels("expired"), REMOVED.labels("ping_timeout")

_CRLF = b"\r\n\r\n"


class _Ping(Outgoing):
    __slots__ = ("deadline", "key", "owner")

    def __init__(self, owner: Keepalive, key: str, deadline: float) -> None:
        self.owner = owner
        self.key = key
        self.deadline = deadline

    def on_response(self, response: Response, transaction: ClientTransaction) -> None:
        if response.status_code >= 200:
            self.owner.answered(self)

    def on_failure(self, transaction: ClientTransaction) -> None:
        self.owner.lost(self)


class Keepalive:
    """The registrar's sweeper: pings this node's bindings and removes lapsed ones."""

    def __init__(
        self,
        stack: SipStack,
        policy: LivePolicy,
        store: BindingStore,
        settings: RegistrarSettings,
        *,
        local_host: str,
        local_port: int,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.stack = stack
        self.policy = policy
        self.store = store
        self.settings = settings
        self.local_host = local_host
        self.local_port = local_port
        self.wall_clock = wall_clock
        self._seq = itertools.count()
        self._pings: list[tuple[float, int, str]] = []  # (due, n, key)
        self._expiries: list[tuple[float, int, str]] = []  # (wall timestamp, n, key)
        self._waiting: dict[str, _Ping] = {}
        self._deadlines: list[tuple[float, int, str]] = []
        self._scheduled: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        store.table.listeners.append(self._changed)

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        for binding in self.store.table:
            self._changed(None, binding)
        self._arm()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        self._timer = self.stack.loop.call_later(self.settings.sweep_interval, self._tick)

    # -- bindings coming and going -----------------------------------------------------------------

    def _changed(self, old: Registration | None, new: Registration | None) -> None:
        if new is None:
            if old is not None:
                self._scheduled.pop(old.key, None)
                self._waiting.pop(old.key, None)
            return
        heapq.heappush(self._expiries, (new.expires_at.timestamp(), next(self._seq), new.key))
        if new.node_id == self.store.table.node_id and new.key not in self._scheduled:
            due = self.stack.now() + self.settings.ping_interval
            self._scheduled[new.key] = due
            heapq.heappush(self._pings, (due, next(self._seq), new.key))
        elif new.node_id != self.store.table.node_id:
            self._scheduled.pop(new.key, None)  # another node holds it now

    # -- the sweep ---------------------------------------------------------------------------------

    def _tick(self) -> None:
        try:
            self.sweep(self.stack.now(), self.wall_clock())
        except Exception:
            _log.exception("registrar sweep failed")
        finally:
            self._arm()

    def sweep(self, now: float, wall: datetime) -> None:
        """Remove lapsed bindings, give up on unanswered pings, send the pings due at ``now``."""
        table = self.store.table
        stamp = wall.timestamp()
        while self._expiries and self._expiries[0][0] <= stamp:
            _, _, key = heapq.heappop(self._expiries)
            binding = table.get(key)
            if binding is not None and binding.expires_at.timestamp() <= stamp:
                _EXPIRED.inc()
                if binding.node_id == table.node_id:
                    self.store.drop(key)
                else:
                    table.remove(key)
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, key = heapq.heappop(self._deadlines)
            ping = self._waiting.get(key)
            if ping is not None and ping.deadline <= now:
                self.lost(ping)
        sent = False
        while self._pings and self._pings[0][0] <= now:
            due, _, key = heapq.heappop(self._pings)
            if self._scheduled.get(key) != due:
                continue  # removed, or rescheduled
            binding = table.get(key)
            if binding is None or binding.node_id != table.node_id:
                self._scheduled.pop(key, None)
                continue
            nxt = now + self.settings.ping_interval
            self._scheduled[key] = nxt
            heapq.heappush(self._pings, (nxt, next(self._seq), key))
            sent = self._ping(binding, now) or sent
        if sent:
            self.stack.pump()

    def _ping(self, binding: Registration, now: float) -> bool:
        snapshot = self.policy.snapshot
        user = None if snapshot is None else snapshot.lookup_user(binding.username, binding.realm)
        if snapshot is not None and (user is None or user.id != binding.sip_user_id):
            self.store.drop(binding.key)  # the SIP user was deleted (or recreated)
            return False
        mode = "disabled" if user is None else user.nat_ping
        if mode == "disabled":
            return False
        peer = Peer(binding.transport.upper(), binding.target_host, binding.target_port)
        _SENT.inc()
        if mode == "enabled" and self.settings.keepalive == "crlf":
            if self.stack.sender is not None:
                self.stack.sender.send(peer, _CRLF)
            return False
        if binding.key in self._waiting:
            return False  # the previous ping is still out
        request = self._options(binding, peer)
        watch = mode != "enabled"
        ping = _Ping(self, binding.key, now + self.settings.ping_timeout if watch else float("inf"))
        transaction = self.stack.layer.send_request(request, peer, now)
        transaction.context = ping
        if watch:
            self._waiting[binding.key] = ping
            heapq.heappush(self._deadlines, (ping.deadline, next(self._seq), binding.key))
        return True

    def _options(self, binding: Registration, peer: Peer) -> Request:
        local = f"{self.local_host}:{self.local_port}"
        return Request(
            "OPTIONS",
            binding.contact,
            [
                ("Via", f"SIP/2.0/{peer.transport} {local};branch={new_branch()};rport"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:ping@{local}>;tag={new_tag()}"),
                ("To", f"<{binding.contact}>"),
                ("Call-ID", new_tag() + new_tag()),
                ("CSeq", "1 OPTIONS"),
                ("Contact", f"<sip:{local}>"),
            ],
        )

    # -- answers -----------------------------------------------------------------------------------

    def answered(self, ping: _Ping) -> None:
        _ANSWERED.inc()
        if self._waiting.get(ping.key) is ping:
            del self._waiting[ping.key]

    def lost(self, ping: _Ping) -> None:
        if self._waiting.get(ping.key) is not ping:
            return  # answered already, or not watched (``enabled``)
        del self._waiting[ping.key]
        _LOST.inc()
        binding = self.store.table.get(ping.key)
        if binding is not None and binding.node_id == self.store.table.node_id:
            _UNANSWERED.inc()
            _log.info(
                "binding removed: NAT ping unanswered",
                sip_user_id=str(binding.sip_user_id),
                target=f"{binding.target_host}:{binding.target_port}",
            )
            self.store.drop(ping.key)

    @property
    def pending(self) -> int:
        """Pings waiting for an answer."""
        return len(self._waiting)
