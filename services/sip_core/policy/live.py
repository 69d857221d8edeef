"""``LivePolicy``: the call policy of a sip_core node, fed by the live configuration.

For each new INVITE, in the order of issue 5 ("Call processing"):

1. **Firewall** — a source on the block list is refused (403). Dropping it before parsing is the
   transport's job (issue 8); this is the defence in depth for what got through, and
   :meth:`LivePolicy.firewall_action` is the index the transport can ask.
2. **Authentication** — by source address (:mod:`~services.sip_core.policy.identify`: longest
   network, tech prefix, CLI authentication), else SIP digest
   (:mod:`~services.sip_core.policy.digest`): 407 with SHA-256 and MD5 challenges; verified
   credentials, then the SIP user's allow list (outside it only up to
   ``calls_outside_allow_list`` concurrent calls), the customer's ``source_ranges`` and status.
   Every refusal publishes a ``SipAuthFailed`` (off the call path). Unknown user and wrong
   password get the same answer (403 "Forbidden").
3. **Limits** — channels and CPS of the ipauth entry or SIP user, the customer and the platform
   (then of the route once routing chose it; carrier and gateway limits per attempt, in
   :meth:`LivePolicy.begin_attempt`). Refused with **503**: a wholesale customer's switch fails
   over to its next provider on a 503 (RFC 3261 §21.5.4) — what a customer over its channels
   wants — while 403/486 would end its routing. No Retry-After: it would make the customer's
   switch stop sending *any* call to us for that long (RFC 3263 §4.3).
4. **Number handling** — the entry's / user's rewrite rules in order (destination, then CLI).
5. **Balance** — ``balance`` + ``debit_limit`` ≤ 0 → **402** (INSUFFICIENT_BALANCE); today's spend
   at the daily limit → 402 (DAILY_SPEND_LIMIT). 402 "Payment Required" is what billing-aware
   switches answer (FreeSWITCH's nibblebill, Kamailio's cnxcc examples), and as a 4xx it does not
   suggest a retry here. The balance is read live (billing moves it often; it does not rebuild
   the snapshot).
6. **Routing** — :meth:`libs.routing.RoutingTable.plan`; a refusal answers the plan's status.
7. **Egress** — one :class:`Target` per attempt with the carrier's timeouts, its failover set
   (:func:`libs.routing.next_action` semantics: a stop code ends routing), the buy rate, the
   Request-URI ``sip:<number>@<gateway host>:<port>`` and the gateway's transport. The duration
   is capped by what the balance buys at the sell rate, the route's and the customer's maximum.

Configuration changes rebuild a :class:`PolicySnapshot` in a worker thread (rate cards parsed
there, cached by digest) and swap it in; balance changes are read live and rebuild nothing.
A carrier that challenges our INVITE (401/407) is answered with its egress entry's username and
password (decrypted into the snapshot with ``keys``, the identity encryption key ring), carried
on the :class:`Target`; the B2BUA re-sends the INVITE with the credentials.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Gauge, Histogram

from libs.bus import BusConnector
from libs.bus.cdr import ReleaseReason
from libs.bus.security import SipAuthFailed, SipAuthFailure
from libs.bus.tasks import cancel_and_wait
from libs.liveconfig import Change, ConfigView
from libs.liveconfig.models import CONFIG_KINDS, BalanceConfig, CustomerConfig, SipUserConfig
from libs.routing import (
    MediaMode,
    RefusalReason,
    RewriteError,
    RoutingRefusal,
    Transport,
    apply_rewrites,
)
from libs.security import KeyRing
from services.sip_core.b2bua.policy import Admission, MediaPlan, Rating, Refusal, Target
from services.sip_core.policy.digest import (
    DEFAULT_ALGORITHMS,
    DigestAuthenticator,
    DigestOutcome,
    NonceService,
)
from services.sip_core.policy.events import SecurityEvents
from services.sip_core.policy.identify import IpMatch
from services.sip_core.policy.limits import Lease, Limiter, LimitExceeded, LimitKey, LimitKind
from services.sip_core.policy.shared import SharedLimits
from services.sip_core.policy.snapshot import (
    PolicySnapshot,
    RateCardCache,
    Rewrites,
    build_snapshot,
    raw_rate_card,
)
from services.sip_core.sip import Auth, ParseError, Peer, Request

if TYPE_CHECKING:  # the registrar builds on this module
    from services.sip_core.registrar.inbound import RegisteredUserTarget

__all__ = ["LivePolicy"]

_log = structlog.get_logger(__name__)

REBUILD_SECONDS = Histogram(
    "tandem_policy_rebuild_seconds",
    "Building the call policy's snapshot after a configuration change",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
GENERATION = Gauge("tandem_policy_generation", "Configuration snapshots installed")

_REFUSALS: dict[RefusalReason, ReleaseReason] = {
    RefusalReason.INVALID_NUMBER: ReleaseReason.NO_ROUTE,
    RefusalReason.NO_ROUTE: ReleaseReason.NO_ROUTE,
    RefusalReason.NO_RATE: ReleaseReason.NO_RATE,
    RefusalReason.BLOCKED: ReleaseReason.BLOCKED_DESTINATION,
    RefusalReason.NO_RATE_CARD: ReleaseReason.NO_RATE,
    RefusalReason.NO_CARRIER: ReleaseReason.NO_ROUTE,
}
_LIMIT_REASONS = {
    LimitKind.CHANNELS: ReleaseReason.LIMIT_CHANNELS,
    LimitKind.CPS: ReleaseReason.LIMIT_CPS,
}
_FORBIDDEN = Refusal(403, ReleaseReason.UNAUTHORISED)
_NOT_READY = Refusal(503, ReleaseReason.NO_ROUTE)
_PLATFORM = "platform"
_TRANSPORTS = {Transport.UDP: "UDP", Transport.TCP: "TCP", Transport.TLS: "TLS"}
_ZERO = Decimal(0)
_DIGEST_FAILURES: dict[DigestOutcome, SipAuthFailure] = {
    DigestOutcome.MALFORMED: "malformed",
    DigestOutcome.INVALID_NONCE: "invalid_nonce",
    DigestOutcome.REPLAYED: "invalid_nonce",
    DigestOutcome.UNKNOWN_USER: "unknown_user",
    DigestOutcome.WRONG_REALM: "unknown_user",
    DigestOutcome.BAD_CREDENTIALS: "bad_credentials",
}

SecuritySink = Callable[[SipAuthFailed], None]


@lru_cache(maxsize=65_536)  # the same few carrier/card/route ids on every call
def _uuid(text: str | None) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _money(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        return _ZERO
    return value if value.is_finite() else _ZERO


class LivePolicy:
    """The :class:`~services.sip_core.b2bua.policy.CallPolicy` of a configured node."""

    def __init__(
        self,
        connector: BusConnector | None,
        *,
        node_id: str = "",
        zone: str = "",
        security: SecuritySink | None = None,
        on_auth_failure: Callable[[str], None] | None = None,
        on_change: Callable[[list[Change]], None] | None = None,
        nonce_lifetime: float = 30.0,
        digest_algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        keys: KeyRing | None = None,
        limits_interval: float = 0.25,
    ) -> None:
        self.node_id = node_id
        #: Decrypts carriers' egress passwords into each snapshot (kept out of any repr).
        self._keys = keys
        self.zone = zone
        self.clock = clock
        self.wall_clock = wall_clock
        self.limiter = Limiter()
        #: Limits for the platform: this node's figures and the other nodes' over NATS
        #: (``limits_interval`` 0: each node enforces its limits alone).
        self.shared_limits: SharedLimits | None = None
        if connector is not None and limits_interval > 0:
            self.shared_limits = SharedLimits(
                connector,
                self.limiter,
                node_id=node_id or f"sip-{uuid.uuid4().hex[:12]}",
                interval=limits_interval,
                clock=clock,
            )
        self.nonces = NonceService(lifetime=nonce_lifetime)
        self._digests: dict[str, DigestAuthenticator] = {}
        self.digest_algorithms = tuple(digest_algorithms)
        self._events: SecurityEvents | None = None
        if security is None and connector is not None:
            self._events = SecurityEvents(connector)
            security = self._events.emit
        self._security = security
        #: Told the source host of every authentication failure (flood protection counts them).
        self._on_auth_failure = on_auth_failure
        #: Also given every configuration change: other components of the node (the security
        #: plane) share this view instead of watching the bucket a second time.
        self._on_change = on_change
        self._snapshot: PolicySnapshot | None = None
        self.generation = 0
        self._cards = RateCardCache()
        self._dirty = False
        self._rebuilding: asyncio.Task[None] | None = None
        self._started: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.view: ConfigView | None = None
        if connector is not None:
            self.view = ConfigView(
                connector,
                CONFIG_KINDS,
                blobs={"ratecard": raw_rate_card},
                on_change=self._changed,
            )
        #: Calls to registered SIP users (the registrar's; ``None``: no registrar on this node).
        self.registered: RegisteredUserTarget | None = None
        self._balances: Mapping[uuid.UUID, Any] = (
            self.view.all("balance") if self.view is not None else {}
        )

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start watching the configuration (in the running event loop)."""
        if self._events is not None:
            self._events.start()
        if self.shared_limits is not None:
            self.shared_limits.start()
        if self.view is not None and self._started is None:
            self.view.start()
            self._started = asyncio.get_running_loop().create_task(self._first_load())

    async def _first_load(self) -> None:
        assert self.view is not None
        await self.view.loaded.wait()
        if self._snapshot is None and (self._rebuilding is None or self._rebuilding.done()):
            self._schedule()  # an empty bucket emits no change: build the empty snapshot

    async def stop(self) -> None:
        for task in (self._started, self._rebuilding):
            if task is not None and not task.done():
                await cancel_and_wait(task)
        if self.view is not None:
            await self.view.stop()
        if self.shared_limits is not None:
            await self.shared_limits.stop()
        if self._events is not None:
            await self._events.stop()

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    async def wait_ready(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def check_ready(self) -> None:
        """A readiness check for the node (raises until the first snapshot is in)."""
        if self._snapshot is None:
            raise ConnectionError("call policy: initial configuration not loaded yet")

    @property
    def snapshot(self) -> PolicySnapshot | None:
        return self._snapshot

    def install(self, snapshot: PolicySnapshot) -> None:
        """Swap in ``snapshot`` for new calls (a rebuild, or a test)."""
        self._snapshot = snapshot
        self.generation += 1
        GENERATION.set(self.generation)
        self._ready.set()

    def set_balances(self, balances: Mapping[uuid.UUID, Any]) -> None:
        """Where balances are read from (the view's live mapping; a dict in tests)."""
        self._balances = balances

    def _changed(self, changes: list[Change]) -> None:
        if self._on_change is not None:
            try:
                self._on_change(changes)
            except Exception:
                _log.exception("configuration change listener failed")
        if all(change.kind == "balance" for change in changes):
            return
        self._schedule()

    def _schedule(self) -> None:
        self._dirty = True
        if self._rebuilding is None or self._rebuilding.done():
            self._rebuilding = asyncio.get_running_loop().create_task(self._rebuild())

    async def _rebuild(self) -> None:
        assert self.view is not None
        kinds = ("carrier", "ratecard", "route", "ipauth", "sipuser", "customer", "rewrite")
        while self._dirty:
            self._dirty = False
            objects = {kind: dict(self.view.all(kind)) for kind in (*kinds, "firewall", "settings")}
            started = time.perf_counter()
            # Parsing a card makes objects by the hundred thousand: with the collector on,
            # that sets off full collections, each holding the GIL (and so every call) for
            # hundreds of ms. Configuration holds no reference cycles; the build's objects
            # are frozen out of the collector's sight once installed (refcounting frees them
            # when a later snapshot replaces them).
            collecting = gc.isenabled()
            gc.disable()
            try:
                snapshot = await asyncio.to_thread(
                    build_snapshot, objects, self._cards, built_at=time.time(), keys=self._keys
                )
            except Exception:
                _log.exception("call policy snapshot failed to build; keeping the last one")
                continue
            finally:
                if collecting:
                    gc.enable()
            elapsed = time.perf_counter() - started
            REBUILD_SECONDS.observe(elapsed)
            self.install(snapshot)
            gc.freeze()
            _log.info(
                "call policy snapshot installed",
                generation=self.generation,
                seconds=round(elapsed, 4),
                problems=len(snapshot.problems),
            )
            for problem in snapshot.problems[:20]:
                _log.warning("configuration problem", problem=problem)

    # -- helpers for other parts -----------------------------------------------------------------

    def firewall_action(self, address: str) -> str | None:
        """``block``/``allow``/``trusted`` for ``address`` (the transport's pre-parse check)."""
        snapshot = self._snapshot
        return None if snapshot is None else snapshot.firewall_action(address, self.wall_clock())

    def report_auth_failure(
        self,
        request: Request,
        source: Peer,
        reason: SipAuthFailure,
        status: int,
        username: str | None = None,
        realm: str | None = None,
        customer_id: str | None = None,
    ) -> None:
        """Publish a ``SipAuthFailed`` for a request refused elsewhere (the registrar)."""
        self._auth_failed(request, source, reason, status, username, realm, customer_id)

    def digest_for(self, realm: str) -> DigestAuthenticator:
        found = self._digests.get(realm)
        if found is None:
            found = self._digests[realm] = DigestAuthenticator(
                self.nonces, realm, self.digest_algorithms
            )
        return found

    # -- the call path ----------------------------------------------------------------------------

    def admit(self, request: Request, source: Peer) -> Admission | Refusal:
        snapshot = self._snapshot
        if snapshot is None:
            return _NOT_READY
        wall = self.wall_clock()
        address = source.host
        if snapshot.firewall_action(address, wall) == "block":
            return _FORBIDDEN
        try:
            dialled = getattr(request.request_uri, "user", None) or ""
            cli = getattr(request.from_.uri, "user", None) or ""
        except ParseError:
            return Refusal(400, ReleaseReason.NO_ROUTE)

        match = snapshot.ipauth.identify(address, dialled, cli, snapshot.cli_matches)
        user: SipUserConfig | None = None
        outside = False
        if match is None and self.registered is not None:
            # A carrier's call to a registered SIP user (services.sip_core.registrar.inbound).
            inbound = self.registered.from_carrier(snapshot, source, dialled, cli)
            if inbound is not None:
                return inbound
        if match is not None:
            customer_id = match.customer_id
            tech_prefix = match.tech_prefix
            dialled = match.dialled
        else:
            found = self._digest(request, source, snapshot)
            if isinstance(found, Refusal):
                return found
            user, outside = found
            customer_id = str(user.customer_id)
            tech_prefix = ""
        customer = snapshot.customers.get(customer_id)
        if customer is None or customer.status != "active":
            self._auth_failed(
                request, source, "account_inactive", 403, customer_id=customer_id,
                username=user.username if user else None,
            )  # fmt: skip
            return _FORBIDDEN

        # 3. limits of the caller's levels (route limits once routing chose one)
        levels = self._caller_levels(snapshot, match, user, outside, customer)
        lease = self.limiter.acquire(levels, self.clock())
        if isinstance(lease, LimitExceeded):
            return Refusal(503, _LIMIT_REASONS[lease.kind])
        try:
            decision = self._route(
                snapshot, request, match, user, customer, dialled, cli, tech_prefix, wall, lease
            )
        except Exception:
            lease.release()
            raise
        if isinstance(decision, Refusal):
            lease.release()
        return decision

    def _route(
        self,
        snapshot: PolicySnapshot,
        request: Request,
        match: IpMatch | None,
        user: SipUserConfig | None,
        customer: CustomerConfig,
        dialled: str,
        cli: str,
        tech_prefix: str,
        wall: datetime,
        lease: Lease,
    ) -> Admission | Refusal:
        # 4. number handling
        owner = match.entry.id if match is not None else user.id if user is not None else None
        rules = snapshot.rewrites_of(owner) if owner is not None else Rewrites()
        try:
            if rules.destination:
                dialled, _ = apply_rewrites(rules.destination, dialled)
            if rules.cli:
                cli, _ = apply_rewrites(rules.cli, cli)
        except RewriteError:
            return Refusal(484, ReleaseReason.NO_ROUTE)

        # 5. balance
        balance = self._balances.get(customer.id)
        available = _money(customer.debit_limit)
        if isinstance(balance, BalanceConfig):
            available += _money(balance.balance)
            daily = _money(customer.daily_spend_limit)
            if daily > 0 and balance.day == wall.date() and _money(balance.spent_today) >= daily:
                return Refusal(402, ReleaseReason.DAILY_SPEND_LIMIT)
        if available <= 0:
            return Refusal(402, ReleaseReason.INSUFFICIENT_BALANCE)

        # 5b. a SIP user of the platform: its registered contacts, not routing (registrar)
        if self.registered is not None:
            local = self.registered.on_net(snapshot, dialled, cli, customer, match, user, lease)
            if local is not None:
                return local

        # 6. routing
        plan = snapshot.table.plan(str(customer.id), dialled, cli, tech_prefix, wall)
        if isinstance(plan, RoutingRefusal):
            return Refusal(plan.sip_status, _REFUSALS[plan.reason])
        route = plan.route
        route_lease: Lease | None = None
        if route.channel_limit or route.cps_limit:
            acquired = self.limiter.acquire(
                (LimitKey(f"route:{route.id}", route.channel_limit, route.cps_limit),),
                self.clock(),
            )
            if isinstance(acquired, LimitExceeded):
                return Refusal(503, _LIMIT_REASONS[acquired.kind])
            route_lease = acquired

        cap = plan.duration_cap(available)
        if customer.max_call_duration > 0:
            cap = (
                customer.max_call_duration if cap is None else min(cap, customer.max_call_duration)
            )
        if cap is not None and cap <= 0:
            if route_lease is not None:
                route_lease.release()
            return Refusal(402, ReleaseReason.INSUFFICIENT_BALANCE)

        # 7. egress
        targets: list[Target] = []
        attempt_levels: dict[int, tuple[LimitKey, ...]] = {}
        for attempt in plan.attempts:
            carrier, gateway, buy = attempt.carrier, attempt.gateway, attempt.buy_rate
            peer = Peer(_TRANSPORTS[gateway.transport], gateway.host, gateway.port)
            timeouts = carrier.timeouts
            target = Target(
                peer,
                f"sip:{attempt.number}@{gateway.host}:{gateway.port}",
                carrier_id=_uuid(carrier.id),
                first_reply_timeout=timeouts.first_reply,
                ring_timeout=timeouts.ring,
                post_dial_delay=timeouts.post_dial_delay,
                failover_codes=snapshot.failover_codes.get(carrier.id, frozenset()),
                buy_card_id=_uuid(carrier.rate_card_id),
                buy_prefix=buy.prefix,
                buy_rate=buy.per_minute,
                credentials=snapshot.egress_credentials.get(gateway.id),
            )
            targets.append(target)
            levels = []
            if carrier.channel_limit or carrier.cps_limit:
                levels.append(
                    LimitKey(f"carrier:{carrier.id}", carrier.channel_limit, carrier.cps_limit)
                )
            egress = snapshot.ipauth_by_id.get(gateway.id)
            if egress is not None and (egress.channel_limit or egress.cps_limit):
                levels.append(
                    LimitKey(f"gateway:{gateway.id}", egress.channel_limit, egress.cps_limit)
                )
            if levels:
                attempt_levels[id(target)] = tuple(levels)

        sell_card, sell = plan.sell_card, plan.sell_rate
        zone = route.media_zone or (match.entry.media_zone if match is not None else None)
        context: dict[str, object] = {"lease": lease, "attempt_levels": attempt_levels}
        if route_lease is not None:
            context["route_lease"] = route_lease
        return Admission(
            targets=targets,
            caller=cli,
            callee=dialled,
            customer_id=customer.id,
            max_duration=float(cap) if cap is not None else None,
            auth_method="ip" if match is not None else "digest",
            ipauth_id=match.entry.id if match is not None else None,
            sip_user_id=user.id if user is not None else None,
            rating=Rating(
                route_id=_uuid(route.id),
                sell_card_id=_uuid(sell_card.id),
                sell_prefix=sell.prefix,
                destination=sell.destination,
                sell_rate=sell.per_minute,
                connection_fee=sell.connection_fee,
                initial_increment=sell.increments.initial,
                subsequent_increment=sell.increments.subsequent,
                currency=sell_card.currency,
            ),
            media=MediaPlan(
                mode="relay" if route.media_mode is MediaMode.PROXY else "direct", zone=zone
            ),
            context=context,
        )

    def begin_attempt(self, admission: Admission, target: Target) -> Refusal | None:
        """The B2BUA is about to try ``target``: take its carrier/gateway limits.

        The previous attempt's are given back first (its carrier is done with the call). A
        carrier at its limit is refused here and the B2BUA skips to the next one.
        """
        context = admission.context
        previous = context.pop("attempt_lease", None)
        if isinstance(previous, Lease):
            previous.release()
        levels = context.get("attempt_levels")
        wanted = levels.get(id(target)) if isinstance(levels, dict) else None
        if not wanted:
            return None
        acquired = self.limiter.acquire(wanted, self.clock())
        if isinstance(acquired, LimitExceeded):
            return Refusal(503, _LIMIT_REASONS[acquired.kind])
        context["attempt_lease"] = acquired
        return None

    def release(self, admission: Admission) -> None:
        context = admission.context
        for name in ("attempt_lease", "route_lease", "lease"):
            lease = context.pop(name, None)
            if isinstance(lease, Lease):
                lease.release()

    # -- authentication ------------------------------------------------------------------------

    def _caller_levels(
        self,
        snapshot: PolicySnapshot,
        match: IpMatch | None,
        user: SipUserConfig | None,
        outside: bool,
        customer: CustomerConfig,
    ) -> list[LimitKey]:
        levels: list[LimitKey] = []
        if match is not None:
            entry = match.entry
            levels.append(LimitKey(f"ipauth:{entry.id}", entry.channel_limit, entry.cps_limit))
        elif user is not None:
            levels.append(LimitKey(f"sipuser:{user.id}", user.channel_limit, user.cps_limit))
            if outside:
                levels.append(LimitKey(f"outside:{user.id}", user.calls_outside_allow_list))
        levels.append(
            LimitKey(f"customer:{customer.id}", customer.channel_limit, customer.cps_limit)
        )
        levels.append(LimitKey(_PLATFORM, snapshot.settings.platform_channel_limit))
        return levels

    def _digest(
        self, request: Request, source: Peer, snapshot: PolicySnapshot
    ) -> tuple[SipUserConfig, bool] | Refusal:
        """The SIP user a request's digest credentials prove (and whether it is outside the
        user's allow list), or the refusal to answer."""
        realm = snapshot.realm
        digest = self.digest_for(realm)
        now = self.clock()
        try:
            offered = request.credentials("Proxy-Authorization")
        except ParseError:
            self._auth_failed(request, source, "malformed", 403)
            return _FORBIDDEN
        credentials: Auth | None = None
        for candidate in offered:
            if candidate.scheme.lower() == "digest":
                credentials = candidate
                if candidate.get("realm") == realm:
                    break
        if credentials is None:
            if not snapshot.sip_users:
                # No digest account exists: an unknown source, nothing to challenge for.
                self._auth_failed(request, source, "unknown_source", 403)
                return _FORBIDDEN
            return Refusal(407, ReleaseReason.UNAUTHORISED, digest.challenge(now))
        result = digest.verify(credentials, request.method, snapshot.lookup_user, now)
        outcome = result.outcome
        if outcome is DigestOutcome.STALE:
            return Refusal(407, ReleaseReason.UNAUTHORISED, digest.challenge(now, stale=True))
        if outcome is not DigestOutcome.OK:
            reason = _DIGEST_FAILURES[outcome]
            if outcome in (DigestOutcome.INVALID_NONCE, DigestOutcome.REPLAYED):
                # Not ours, or used: a fresh challenge (a node restart must not lock users out).
                self._auth_failed(request, source, reason, 407, result.username, result.realm)
                return Refusal(407, ReleaseReason.UNAUTHORISED, digest.challenge(now))
            self._auth_failed(request, source, reason, 403, result.username, result.realm)
            return _FORBIDDEN
        user = result.user
        assert isinstance(user, SipUserConfig)
        customer_id = str(user.customer_id)
        outside = not snapshot.user_acls[user.id].allows(source.host)
        if outside and user.calls_outside_allow_list <= 0:
            self._auth_failed(
                request, source, "source_not_allowed", 403, user.username, user.realm, customer_id
            )
            return _FORBIDDEN
        customer_acl = snapshot.customer_acls.get(customer_id)
        if customer_acl is not None and not customer_acl.allows(source.host):
            self._auth_failed(
                request, source, "source_not_allowed", 403, user.username, user.realm, customer_id
            )
            return _FORBIDDEN
        return user, outside

    def _auth_failed(
        self,
        request: Request,
        source: Peer,
        reason: SipAuthFailure,
        status: int,
        username: str | None = None,
        realm: str | None = None,
        customer_id: str | None = None,
    ) -> None:
        if self._on_auth_failure is not None:
            try:
                self._on_auth_failure(source.host)
            except Exception:
                _log.exception("authentication failure not counted")
        sink = self._security
        if sink is None:
            return
        try:
            agent = request.headers.get("User-Agent")
            event = SipAuthFailed(
                event_id=uuid.uuid4().hex,
                at=self.wall_clock(),
                node_id=self.node_id,
                zone=self.zone,
                source_address=source.host,
                source_port=source.port,
                transport=source.transport.lower(),
                method=request.method,
                reason=reason,
                username=username[:256] if username else None,
                realm=realm,
                customer_id=customer_id,
                user_agent=agent[:256] if agent else None,
                sip_status=status,
            )
            sink(event)
        except Exception:  # an event is never worth a call
            _log.exception("security event not emitted")
