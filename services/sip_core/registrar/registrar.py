"""The registrar: REGISTER from SIP users (RFC 3261 §10.3), digest-authenticated.

Processing, in §10.3's order:

1. **Authentication** — the same digest rules as a call (:mod:`services.sip_core.policy.digest`:
   HMAC nonces, replay refusal, ``stale``), challenged the way a registrar does: **401** with
   ``WWW-Authenticate`` (§22.1), credentials in ``Authorization``. Unknown user and wrong
   password both get 403; every refusal publishes a ``SipAuthFailed`` like a call's.
2. **Authorisation** — the AOR in To must be the authenticated user's (§10.3 step 6); the
   user's allow list, the customer's source ranges and status apply as for its calls.
3. **Contacts** — ``*`` with ``Expires: 0`` removes every binding of the user (§10.3 step 6);
   otherwise each contact's ``expires`` parameter, else the ``Expires`` header, else the default.
   0 removes the binding; below the minimum the whole request gets **423 Interval Too Brief**
   with ``Min-Expires`` (§10.3 step 7); above the maximum it is shortened. A binding refreshed
   with the same Call-ID needs a higher CSeq (§10.3 step 7; otherwise 500, nothing changes).
   Beyond ``max_contacts`` the oldest bindings make room for the new ones (a phone that
   rebooted behind NAT comes back from a new port; its old binding is dead).
4. **NAT** — requests for a binding go to the Contact's host and port, except when the REGISTER
   came over TCP/TLS (the connection is the way back), when force-NAT applies (the node setting,
   or a force-NAT ingress ``ipauth`` entry of the user's customer covering the source) or when the
   Contact names a private, shared or link-local address other than the source (a UA behind NAT
   that does not know it), or a host name: then they go to the address the REGISTER came from.
5. **200 OK** listing every current binding of the user with its remaining ``expires`` (§10.3
   step 8), and a ``Date``.

Bindings go to the :class:`~services.sip_core.registrar.bindings.BindingStore` (this node at once,
the bucket and so every node soon after). Not implemented: RFC 5626 outbound (``reg-id``,
``+sip.instance``: a re-registration from a new flow is a new contact), Path (RFC 3327), GRUU.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Literal

import structlog
from prometheus_client import Counter

from libs.bus.registrations import Registration, registration_key
from libs.bus.security import SipAuthFailure
from libs.liveconfig.models import IpAuthConfig, SipUserConfig
from services.sip_core.config import RegistrarSettings
from services.sip_core.policy.cidr import CidrIndex, network_or_none
from services.sip_core.policy.digest import DigestOutcome
from services.sip_core.policy.live import LivePolicy
from services.sip_core.policy.snapshot import PolicySnapshot
from services.sip_core.registrar.bindings import BindingStore
from services.sip_core.sip import (
    Auth,
    NameAddr,
    ParseError,
    Peer,
    Request,
    Response,
    ServerTransaction,
    SipURI,
    make_response,
    new_tag,
    parse_uri,
)
from services.sip_core.stack import SipStack

__all__ = ["Registrar", "force_nat_index"]

_log = structlog.get_logger(__name__)

REGISTERS = Counter("tandem_registrar_requests_total", "REGISTER requests by answer", ["status"])

#: The ``Allow`` of a registrar not wired to a B2BUA (tests); on a node it is the B2BUA's own
#: (``B2BUA.allow``), so REGISTER's 200 and OPTIONS list the same methods.
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REGISTER"
_TRANSPORTS: dict[str, Literal["udp", "tcp", "tls"]] = {"UDP": "udp", "TCP": "tcp", "TLS": "tls"}
#: Contact addresses that cannot be reached from outside the UA's own network.
_UNROUTABLE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
        "fc00::/7", "fe80::/10",
    )
)  # fmt: skip
_EXTRA_KEY = "registrar.force_nat"
_DIGEST_REFUSALS: dict[DigestOutcome, SipAuthFailure] = {
    DigestOutcome.MALFORMED: "malformed",
    DigestOutcome.INVALID_NONCE: "invalid_nonce",
    DigestOutcome.REPLAYED: "invalid_nonce",
    DigestOutcome.UNKNOWN_USER: "unknown_user",
    DigestOutcome.WRONG_REALM: "unknown_user",
    DigestOutcome.BAD_CREDENTIALS: "bad_credentials",
}


class _Refused(Exception):
    """A REGISTER answered with ``status`` (and ``headers``), nothing changed."""

    def __init__(
        self, status: int, reason: str | None = None, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(status)
        self.status = status
        self.reason = reason
        self.headers = headers


def force_nat_index(snapshot: PolicySnapshot) -> CidrIndex[IpAuthConfig]:
    """Customers' ingress entries with force-NAT, by network (built once per snapshot)."""
    found = snapshot.extra.get(_EXTRA_KEY)
    if isinstance(found, CidrIndex):
        return found
    pairs = []
    for entry in snapshot.ipauth_by_id.values():
        if entry.force_nat and entry.direction == "ingress" and entry.owner == "customer":
            network = network_or_none(entry.address)
            if network is not None:
                pairs.append((network, entry))
    index: CidrIndex[IpAuthConfig] = CidrIndex(pairs)
    snapshot.extra[_EXTRA_KEY] = index
    return index


def _unroutable(host: str) -> bool | None:
    """Whether ``host`` is a private/shared/link-local address; ``None`` for a host name."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return any(address in network for network in _UNROUTABLE)


class Registrar:
    """Answers REGISTER; plug :meth:`handle` into ``B2BUA.handlers["REGISTER"]``."""

    def __init__(
        self,
        stack: SipStack,
        policy: LivePolicy,
        store: BindingStore,
        settings: RegistrarSettings,
        *,
        node_id: str,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        allow: Callable[[], str] = lambda: ALLOW,
    ) -> None:
        self.stack = stack
        self.allow = allow
        self.policy = policy
        self.store = store
        self.settings = settings
        self.node_id = node_id
        self.clock = clock
        self.wall_clock = wall_clock

    def handle(self, request: Request, peer: Peer, transaction: ServerTransaction) -> None:
        try:
            response = self.register(request, peer)
        except ParseError:
            response = make_response(request, 400, to_tag=new_tag())
        except Exception:  # a registrar bug costs this REGISTER, never more
            _log.exception("registrar failed")
            response = make_response(request, 500, to_tag=new_tag())
        REGISTERS.labels(str(response.status_code)).inc()
        transaction.respond(response, self.stack.now())
        self.stack.pump()

    def register(self, request: Request, source: Peer) -> Response:
        """The answer to a REGISTER from ``source`` (bindings changed when it is a 200)."""
        try:
            return self._register(request, source)
        except _Refused as refused:
            return make_response(
                request, refused.status, refused.reason, to_tag=new_tag(), headers=refused.headers
            )

    # -- steps ---------------------------------------------------------------------------------

    def _register(self, request: Request, source: Peer) -> Response:
        snapshot = self.policy.snapshot
        if snapshot is None:
            raise _Refused(503)
        user = self._authenticate(request, source, snapshot)
        aor = request.to.uri
        if not isinstance(aor, SipURI) or aor.user != user.username:
            self._failed(request, source, "unknown_user", 403, user)
            raise _Refused(403, "Forbidden (To is not the authenticated user)")
        self._authorise(request, source, snapshot, user)

        now = self.wall_clock()
        contacts = request.contact
        if request.contact_is_wildcard:
            if len(contacts) > 1 or self._expires_header(request) != 0:
                raise _Refused(400, "Bad Request (* needs Expires: 0 and no other contact)")
            for binding in self.store.table.of_user(user.id, now):
                self.store.drop(binding.key)
            return self._ok(request, user, now)
        if contacts:
            self._update(request, source, snapshot, user, contacts, now)
        return self._ok(request, user, now)

    def _authenticate(
        self, request: Request, source: Peer, snapshot: PolicySnapshot
    ) -> SipUserConfig:
        realm = snapshot.realm
        digest = self.policy.digest_for(realm)
        now = self.clock()
        try:
            offered = request.credentials("Authorization")
        except ParseError:
            self._failed(request, source, "malformed", 403)
            raise _Refused(403) from None
        credentials: Auth | None = None
        for candidate in offered:
            if candidate.scheme.lower() == "digest":
                credentials = candidate
                if candidate.get("realm") == realm:
                    break
        if credentials is None:
            if not snapshot.sip_users:
                self._failed(request, source, "unknown_source", 403)
                raise _Refused(403)
            raise _Refused(401, headers=digest.challenge(now, header="WWW-Authenticate"))
        result = digest.verify(credentials, "REGISTER", snapshot.lookup_user, now)
        outcome = result.outcome
        if outcome is DigestOutcome.STALE:
            raise _Refused(
                401, headers=digest.challenge(now, stale=True, header="WWW-Authenticate")
            )
        if outcome is not DigestOutcome.OK:
            reason = _DIGEST_REFUSALS[outcome]
            fresh = outcome in (DigestOutcome.INVALID_NONCE, DigestOutcome.REPLAYED)
            status = 401 if fresh else 403
            self.policy.report_auth_failure(
                request, source, reason, status, result.username, result.realm
            )
            if fresh:  # not ours, or used: a fresh challenge (a restart must not lock users out)
                raise _Refused(401, headers=digest.challenge(now, header="WWW-Authenticate"))
            raise _Refused(403)
        user = result.user
        assert isinstance(user, SipUserConfig)
        return user

    def _authorise(
        self, request: Request, source: Peer, snapshot: PolicySnapshot, user: SipUserConfig
    ) -> None:
        customer_id = str(user.customer_id)
        acl = snapshot.user_acls.get(user.id)
        outside = acl is not None and not acl.allows(source.host)
        customer_acl = snapshot.customer_acls.get(customer_id)
        if (outside and user.calls_outside_allow_list <= 0) or (
            customer_acl is not None and not customer_acl.allows(source.host)
        ):
            self._failed(request, source, "source_not_allowed", 403, user)
            raise _Refused(403)
        customer = snapshot.customers.get(customer_id)
        if customer is None or customer.status != "active":
            self._failed(request, source, "account_inactive", 403, user)
            raise _Refused(403)

    def _update(
        self,
        request: Request,
        source: Peer,
        snapshot: PolicySnapshot,
        user: SipUserConfig,
        contacts: tuple[NameAddr, ...],
        now: datetime,
    ) -> None:
        settings = self.settings
        default = self._expires_header(request)
        if default is None:
            default = settings.default_expires
        call_id, cseq = request.call_id, request.cseq.number
        changes: list[tuple[str, str, SipURI, int, float | None]] = []
        for contact in contacts:
            try:
                uri = parse_uri(contact.uri_text)
            except ParseError:
                raise _Refused(400, "Bad Request (malformed Contact)") from None
            if not isinstance(uri, SipURI):
                raise _Refused(400, "Bad Request (a Contact must be a SIP URI)")
            expires = _int_param(contact.params.get("expires"), default)
            if 0 < expires < settings.min_expires:
                raise _Refused(423, headers=(("Min-Expires", str(settings.min_expires)),))
            expires = min(expires, settings.max_expires)
            key = registration_key(user.customer_id, user.id, contact.uri_text)
            existing = self.store.table.get(key)
            if existing is not None and existing.call_id == call_id and cseq <= existing.cseq:
                raise _Refused(500, "Server Internal Error (out-of-order REGISTER)")
            changes.append((key, contact.uri_text, uri, expires, _q(contact.params.get("q"))))

        target_source = self._force_nat(source, snapshot, user) or source.transport != "UDP"
        agent = request.headers.get("User-Agent")
        for key, text, uri, expires, q in changes:
            if expires == 0:
                self.store.drop(key)
                continue
            host, port = uri.host, uri.port or (5061 if uri.scheme == "sips" else 5060)
            unroutable = _unroutable(host)
            nat = target_source or unroutable is None or (unroutable and host != source.host)
            self.store.save(
                Registration(
                    sip_user_id=user.id,
                    customer_id=user.customer_id,
                    username=user.username,
                    realm=user.realm,
                    contact=text,
                    q=q,
                    expires_at=now + timedelta(seconds=expires),
                    registered_at=now,
                    call_id=call_id,
                    cseq=cseq,
                    transport=_TRANSPORTS.get(source.transport, "udp"),
                    source_host=source.host,
                    source_port=source.port,
                    target_host=source.host if nat else host.strip("[]"),
                    target_port=source.port if nat else port,
                    nat=bool(nat),
                    user_agent=agent[:256] if agent else None,
                    node_id=self.node_id,
                )
            )
        live = self.store.table.of_user(user.id, now)
        for binding in sorted(live, key=lambda b: b.registered_at)[
            : max(0, len(live) - settings.max_contacts)
        ]:
            self.store.drop(binding.key)

    def _force_nat(self, source: Peer, snapshot: PolicySnapshot, user: SipUserConfig) -> bool:
        if self.settings.force_nat:
            return True
        for _, entries in force_nat_index(snapshot).matches(source.host):
            if any(entry.customer_id == user.customer_id for entry in entries):
                return True
        return False

    def _ok(self, request: Request, user: SipUserConfig, now: datetime) -> Response:
        headers = [
            ("Contact", f"<{b.contact}>;expires={b.expires_in(now)}")
            for b in self.store.table.of_user(user.id, now)
        ]
        headers.append(("Date", format_datetime(now.astimezone(UTC), usegmt=True)))
        headers.append(("Allow", self.allow()))
        return make_response(request, 200, to_tag=new_tag(), headers=headers)

    @staticmethod
    def _expires_header(request: Request) -> int | None:
        value = request.headers.get("Expires")
        if value is None:
            return None
        try:
            expires = int(value.strip())
        except ValueError:
            raise _Refused(400, "Bad Request (Expires)") from None
        if expires < 0:
            raise _Refused(400, "Bad Request (Expires)")
        return expires

    def _failed(
        self,
        request: Request,
        source: Peer,
        reason: SipAuthFailure,
        status: int,
        user: SipUserConfig | None = None,
    ) -> None:
        self.policy.report_auth_failure(
            request, source, reason, status,
            user.username if user else None, user.realm if user else None,
            str(user.customer_id) if user else None,
        )  # fmt: skip


def _int_param(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        parsed = int(value)
    except ValueError:
        raise _Refused(400, "Bad Request (Contact expires)") from None
    if parsed < 0:
        raise _Refused(400, "Bad Request (Contact expires)")
    return parsed


def _q(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        q = float(value)
    except ValueError:
        raise _Refused(400, "Bad Request (Contact q)") from None
    if not 0.0 <= q <= 1.0:
        raise _Refused(400, "Bad Request (Contact q)")
    return q
