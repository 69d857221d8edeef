"""Calls to registered SIP users: the ``RegisteredUserTarget`` resolution of the call policy.

Two ways in, both ending at the user's bindings:

- **From a carrier** (:meth:`RegisteredUserTarget.from_carrier`): the source matches a carrier's
  *ingress* ``ipauth`` entry (longest network first; an entry whose tech prefix leads the number
  wins over a plain one, the prefix is stripped). The dialled number (the DID) goes through the
  entry's destination rewrite rules, which is how a DID is mapped to a SIP user: the result is
  the username (in the platform realm). Limits: the entry's, the user's, its customer's, the
  platform's.
- **From a customer** (:meth:`RegisteredUserTarget.on_net`): after the caller was authenticated,
  rewritten and its balance checked, a dialled number that is a SIP user's username goes to that
  user instead of to least-cost routing (an on-net call; not rated). The callee user's limits are
  taken too.

An unknown number from a carrier gets 404; a known user with no binding 480 (Temporarily
Unavailable, RFC 3261 §21.4.18); a user (or account) at its channel limit 486 (Busy Here).

The contacts are tried **sequentially** in preference order (highest ``q``, then the most
recent registration), each with the registrar's first-reply and ring timeouts; a contact that
times out or answers 404/408/410/480/5xx passes the call to the next one, a 486/603 ends it
(the user is there and said no). Parallel forking would need several B legs per call, which
the B2BUA does not do. The Request-URI is the registered Contact with the dialled number as its
user part when the SIP user has *retain DID*, the username otherwise; requests go to the
binding's target (the NAT source when the registrar decided so). Media goes through a relay
when a binding is behind NAT.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime

from libs.bus.cdr import ReleaseReason
from libs.bus.registrations import Registration
from libs.liveconfig.models import CustomerConfig, IpAuthConfig, SipUserConfig
from libs.routing import RewriteError, apply_rewrites
from services.sip_core.b2bua.policy import Admission, MediaPlan, Rating, Refusal, Target
from services.sip_core.config import RegistrarSettings
from services.sip_core.policy.cidr import CidrIndex, network_or_none
from services.sip_core.policy.identify import IpMatch
from services.sip_core.policy.limits import Lease, Limiter, LimitExceeded, LimitKey, LimitKind
from services.sip_core.policy.snapshot import PolicySnapshot
from services.sip_core.registrar.bindings import BindingTable
from services.sip_core.sip import ParseError, Peer, SipURI, parse_uri

__all__ = ["RegisteredUserTarget", "carrier_ingress_index"]

#: Answers after which the next contact of the user is tried.
NEXT_CONTACT_CODES = frozenset({404, 408, 410, 480, 500, 502, 503, 504})
_EXTRA_KEY = "registrar.carrier_ingress"
_NOT_FOUND = Refusal(404, ReleaseReason.NO_ROUTE)
_UNAVAILABLE = Refusal(480, ReleaseReason.NO_ROUTE)
_INACTIVE = Refusal(403, ReleaseReason.UNAUTHORISED)


def carrier_ingress_index(snapshot: PolicySnapshot) -> CidrIndex[IpAuthConfig]:
    """Carriers' ingress ``ipauth`` entries by network (built once per snapshot)."""
    found = snapshot.extra.get(_EXTRA_KEY)
    if isinstance(found, CidrIndex):
        return found
    pairs = []
    for entry in snapshot.ipauth_by_id.values():
        if entry.owner == "carrier" and entry.direction == "ingress":
            network = network_or_none(entry.address)
            if network is not None:
                pairs.append((network, entry))
    pairs.sort(key=lambda pair: (-len(pair[1].tech_prefix), str(pair[1].id)))
    index: CidrIndex[IpAuthConfig] = CidrIndex(pairs)
    snapshot.extra[_EXTRA_KEY] = index
    return index


class RegisteredUserTarget:
    """Turns a call for a registered SIP user into an :class:`Admission` to its bindings."""

    def __init__(
        self,
        table: BindingTable,
        limiter: Limiter,
        settings: RegistrarSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.table = table
        self.limiter = limiter
        self.settings = settings
        self.clock = clock
        self.wall_clock = wall_clock

    # -- the two ways in -------------------------------------------------------------------------

    def from_carrier(
        self, snapshot: PolicySnapshot, source: Peer, dialled: str, cli: str
    ) -> Admission | Refusal | None:
        """A call from a carrier's ingress address; ``None`` when ``source`` is no carrier's."""
        entry, number = self._carrier_entry(snapshot, source.host, dialled)
        if entry is None:
            return None
        rules = snapshot.rewrites_of(entry.id)
        try:
            username = apply_rewrites(rules.destination, number)[0] if rules.destination else number
            if rules.cli:
                cli = apply_rewrites(rules.cli, cli)[0]
        except RewriteError:
            return Refusal(484, ReleaseReason.NO_ROUTE)
        user = snapshot.lookup_user(username, snapshot.realm)
        if user is None:
            return _NOT_FOUND
        customer = snapshot.customers.get(str(user.customer_id))
        if customer is None or customer.status != "active":
            return _INACTIVE
        levels = [
            LimitKey(f"ipauth:{entry.id}", entry.channel_limit, entry.cps_limit),
            *self._callee_levels(user, customer),
            LimitKey("platform", snapshot.settings.platform_channel_limit),
        ]
        lease = self.limiter.acquire(levels, self.clock())
        if isinstance(lease, LimitExceeded):
            return _limit_refusal(lease, entry_key=f"ipauth:{entry.id}")
        admission = self._admission(user, number, cli, customer, lease)
        if isinstance(admission, Refusal):
            lease.release()
            return admission
        admission.auth_method = "ip"
        admission.ipauth_id = entry.id
        return admission

    def on_net(
        self,
        snapshot: PolicySnapshot,
        dialled: str,
        cli: str,
        customer: CustomerConfig,
        match: IpMatch | None,
        caller: SipUserConfig | None,
        lease: Lease,
    ) -> Admission | Refusal | None:
        """A customer's call to a SIP user of the platform; ``None`` when ``dialled`` is none.

        ``lease`` (the caller's limits) is released by the policy with the call; the callee's
        limits are taken here and released with it too (as the admission's route lease).
        """
        user = snapshot.lookup_user(dialled, snapshot.realm)
        if user is None:
            return None
        callee_customer = snapshot.customers.get(str(user.customer_id))
        if callee_customer is None or callee_customer.status != "active":
            return _UNAVAILABLE
        callee = self.limiter.acquire(self._callee_levels(user, callee_customer), self.clock())
        if isinstance(callee, LimitExceeded):
            return _limit_refusal(callee)
        admission = self._admission(user, dialled, cli, customer, lease)
        if isinstance(admission, Refusal):
            callee.release()
            return admission
        admission.context["route_lease"] = callee
        admission.auth_method = "ip" if match is not None else "digest"
        admission.ipauth_id = match.entry.id if match is not None else None
        admission.sip_user_id = caller.id if caller is not None else None
        return admission

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _carrier_entry(
        snapshot: PolicySnapshot, address: str, dialled: str
    ) -> tuple[IpAuthConfig | None, str]:
        for _, entries in carrier_ingress_index(snapshot).matches(address):
            plain = None
            for entry in entries:  # longest tech prefix first
                prefix = entry.tech_prefix
                if not prefix:
                    plain = plain or entry
                elif dialled.startswith(prefix) and len(dialled) > len(prefix):
                    return entry, dialled[len(prefix) :]
            if plain is not None:
                return plain, dialled
        return None, dialled

    @staticmethod
    def _callee_levels(user: SipUserConfig, customer: CustomerConfig) -> list[LimitKey]:
        return [
            LimitKey(f"sipuser:{user.id}", user.channel_limit, user.cps_limit),
            LimitKey(f"customer:{customer.id}", customer.channel_limit, customer.cps_limit),
        ]

    def _admission(
        self,
        user: SipUserConfig,
        dialled: str,
        cli: str,
        customer: CustomerConfig,
        lease: Lease,
    ) -> Admission | Refusal:
        bindings = self.table.of_user(user.id, self.wall_clock())
        if not bindings:
            return _UNAVAILABLE
        called = dialled if user.retain_did else user.username
        targets = [t for t in (self._target(b, called) for b in bindings) if t is not None]
        if not targets:
            return _UNAVAILABLE
        return Admission(
            targets=targets,
            caller=cli,
            callee=called,
            customer_id=customer.id,
            max_duration=float(customer.max_call_duration) if customer.max_call_duration else None,
            sip_user_id=user.id,
            rating=Rating(),
            media=MediaPlan(mode="relay" if any(b.nat for b in bindings) else "direct"),
            context={"lease": lease},
        )

    def _target(self, binding: Registration, called: str) -> Target | None:
        try:
            uri = parse_uri(binding.contact)
        except ParseError:
            return None
        if not isinstance(uri, SipURI):
            return None
        request_uri = str(dataclasses.replace(uri, user=called or None, password=None))
        return Target(
            Peer(binding.transport.upper(), binding.target_host, binding.target_port),
            request_uri,
            first_reply_timeout=self.settings.first_reply_timeout,
            ring_timeout=self.settings.ring_timeout,
            failover_codes=NEXT_CONTACT_CODES,
        )


def _limit_refusal(exceeded: LimitExceeded, entry_key: str | None = None) -> Refusal:
    reason = (
        ReleaseReason.LIMIT_CHANNELS
        if exceeded.kind is LimitKind.CHANNELS
        else ReleaseReason.LIMIT_CPS
    )
    # The callee (its user or account) is busy: 486. The carrier's entry or the platform: 503.
    busy = exceeded.key != entry_key and exceeded.key != "platform"
    return Refusal(486 if busy else 503, reason)
