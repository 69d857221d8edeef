"""One consistent state of the configuration, indexed for the call path.

:func:`build_snapshot` turns the live configuration objects (``ConfigView`` contents) into a
:class:`PolicySnapshot`: the routing table (carriers, parsed rate cards, routes), the IP
authentication index, SIP users by (username, realm), rewrite rules by owner, customers with
their authorised ranges, carrier failover code sets, the firewall index and the platform
settings. It is pure (no I/O, no event loop), so the live policy runs it in a worker thread and
swaps the reference when it is done: a call keeps the snapshot it was admitted with.

A configuration object that does not parse (a route naming a bad regex…) is left out and
listed in :attr:`PolicySnapshot.problems`; it never stops the rest from loading.

Rate cards arrive as raw blobs (:class:`RawRateCard`: the view's loader does no work in the
event loop); parsed cards are cached by the blob's SHA-256, so a rebuild for a customer change
does not re-parse a 100,000-prefix card.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import structlog

from libs.liveconfig import BlobPointer
from libs.liveconfig.models import (
    SETTINGS_ID,
    CarrierConfig,
    CustomerConfig,
    FirewallConfig,
    IpAuthConfig,
    RewriteConfig,
    RouteConfig,
    SettingsConfig,
    SipUserConfig,
    decode_rate_card,
    ipauth_password_associated_data,
)
from libs.routing import (
    Carrier,
    DialPattern,
    FailoverAction,
    InvalidConfig,
    ParameterRewriteRule,
    RateCard,
    RewriteTarget,
    Route,
    RoutingError,
    RoutingTable,
    next_action,
    parse_carrier,
    parse_rate_card,
    parse_rewrite_rule,
    parse_route,
)
from libs.security import KeyRing
from libs.security.errors import DecryptionFailed, InvalidNetwork, UnknownKeyId
from libs.security.netacl import AddressAcl
from services.sip_core.policy.cidr import CidrIndex, network_or_none
from services.sip_core.policy.identify import IpAuthIndex
from services.sip_core.sip.digest_client import DigestCredentials

__all__ = ["PolicySnapshot", "RateCardCache", "RawRateCard", "build_snapshot", "raw_rate_card"]

_log = structlog.get_logger(__name__)

#: Statuses next_action is asked about to build a carrier's failover set.
_FINAL_FAILURES = range(300, 700)


class RawRateCard(NamedTuple):
    """A ``ratecard`` blob as downloaded (parsed later, off the event loop)."""

    sha256: str
    data: bytes


def raw_rate_card(data: bytes, pointer: BlobPointer) -> RawRateCard:
    """The ``ratecard`` blob loader for the policy's ``ConfigView``: keeps the bytes."""
    return RawRateCard(pointer.sha256, data)


class RateCardCache:
    """Parsed rate cards by blob digest; keeps only what the last build used."""

    def __init__(self) -> None:
        self._cards: dict[str, RateCard] = {}

    def get(self, raw: RawRateCard) -> RateCard:
        card = self._cards.get(raw.sha256)
        if card is None:
            card = parse_rate_card(decode_rate_card(raw.data))
            self._cards[raw.sha256] = card
        return card

    def keep_only(self, digests: set[str]) -> None:
        for digest in [d for d in self._cards if d not in digests]:
            del self._cards[digest]


@dataclass(frozen=True, slots=True)
class Rewrites:
    destination: tuple[ParameterRewriteRule, ...] = ()
    cli: tuple[ParameterRewriteRule, ...] = ()


_NO_REWRITES = Rewrites()


@dataclass(frozen=True, slots=True, eq=False)
class PolicySnapshot:
    table: RoutingTable
    ipauth: IpAuthIndex
    ipauth_by_id: Mapping[str, IpAuthConfig]
    sip_users: Mapping[tuple[str, str], SipUserConfig]
    user_acls: Mapping[uuid.UUID, AddressAcl]
    customers: Mapping[str, CustomerConfig]
    customer_acls: Mapping[str, AddressAcl]
    rewrites: Mapping[uuid.UUID, Rewrites]
    failover_codes: Mapping[str, frozenset[int]]
    cli_patterns: Mapping[str, tuple[DialPattern, ...]]
    firewall: CidrIndex[FirewallConfig]
    settings: SettingsConfig
    #: Egress entry id → the credentials answering its carrier's 401/407 (password decrypted,
    #: in memory only; ``DigestCredentials`` never shows it in a repr).
    egress_credentials: Mapping[str, DigestCredentials] = field(default_factory=dict, repr=False)
    problems: tuple[str, ...] = ()
    built_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.settings.sip_realm

    def lookup_user(self, username: str, realm: str) -> SipUserConfig | None:
        return self.sip_users.get((username, realm))

    def cli_matches(self, customer_id: str, cli: str) -> bool:
        """Whether ``cli`` matches one of the customer's routing CLI patterns."""
        return any(pattern.matches(cli) for pattern in self.cli_patterns.get(customer_id, ()))

    def rewrites_of(self, owner_id: uuid.UUID) -> Rewrites:
        return self.rewrites.get(owner_id, _NO_REWRITES)

    def firewall_action(self, address: str, now: datetime) -> str | None:
        """``block``/``allow``/``trusted`` of the most specific unexpired rule, or ``None``."""
        for _, rules in self.firewall.matches(address):
            live = [r for r in rules if r.expires_at is None or r.expires_at > now]
            if live:
                # Within one network, a block outranks an allow or a trust.
                actions = {rule.action for rule in live}
                return "block" if "block" in actions else min(actions)
        return None


def _dump(obj: Any) -> dict[str, Any]:
    data: dict[str, Any] = obj.model_dump(mode="json", by_alias=True)
    data["id"] = str(obj.id)
    return data


def _acl(entries: list[str], what: str, problems: list[str]) -> AddressAcl:
    try:
        return AddressAcl.parse(entries)
    except InvalidNetwork as exc:
        problems.append(f"{what}: {exc}")
        # A broken list must not open the account to the world: allow nothing it could mean.
        return AddressAcl.parse(["0.0.0.0/32"])


def _egress_credentials(
    entries: list[IpAuthConfig], keys: KeyRing | None, problems: list[str]
) -> dict[str, DigestCredentials]:
    """Decrypt the egress entries' passwords; one that does not decrypt is a listed problem
    (never its value) and its carrier is tried without credentials."""
    found: dict[str, DigestCredentials] = {}
    for entry in entries:
        if entry.direction != "egress" or not entry.username or entry.password_ciphertext is None:
            continue
        if keys is None:
            problems.append(
                f"ipauth.{entry.id}: egress password set but no key ring to decrypt it "
                "(TANDEM_IDENTITY__ENCRYPTION_KEYS_FILE)"
            )
            continue
        try:
            password = keys.decrypt(
                entry.password_ciphertext, ipauth_password_associated_data(entry.id)
            ).decode("utf-8")
        except (DecryptionFailed, UnknownKeyId, UnicodeDecodeError) as exc:
            reason = "unknown key id" if isinstance(exc, UnknownKeyId) else "does not decrypt"
            problems.append(f"ipauth.{entry.id}: egress password {reason}")
            continue
        found[str(entry.id)] = DigestCredentials(entry.username, password)
    return found


def build_snapshot(
    objects: Mapping[str, Mapping[uuid.UUID, Any]],
    cards: RateCardCache,
    *,
    built_at: float = 0.0,
    keys: KeyRing | None = None,
) -> PolicySnapshot:
    """A snapshot of ``objects`` (kind → id → config object, as a ``ConfigView`` holds them).

    ``keys`` decrypts carriers' egress passwords (switch_api's identity encryption keys).
    """
    problems: list[str] = []

    carriers: list[Carrier] = []
    for obj in objects.get("carrier", {}).values():
        assert isinstance(obj, CarrierConfig)
        if obj.rate_card_id is None:
            problems.append(f"carrier {obj.id}: no buy rate card assigned")
            continue
        try:
            carriers.append(parse_carrier(_dump(obj), f"carrier.{obj.id}"))
        except InvalidConfig as exc:
            problems.append(str(exc))

    rate_cards: list[RateCard] = []
    used: set[str] = set()
    for object_id, raw in objects.get("ratecard", {}).items():
        if not isinstance(raw, RawRateCard):
            continue
        try:
            rate_cards.append(cards.get(raw))
            used.add(raw.sha256)
        except (RoutingError, ValueError, KeyError) as exc:
            problems.append(f"ratecard.{object_id}: {exc}")
    cards.keep_only(used)

    routes: list[Route] = []
    for obj in objects.get("route", {}).values():
        assert isinstance(obj, RouteConfig)
        try:
            routes.append(parse_route(_dump(obj), f"route.{obj.id}"))
        except InvalidConfig as exc:
            problems.append(str(exc))

    try:
        table = RoutingTable(carriers, rate_cards, routes)
    except InvalidConfig as exc:  # duplicate ids (two blobs claiming one card id…)
        problems.append(str(exc))
        table = RoutingTable(carriers, [], routes)
    problems.extend(table.problems)

    ipauths = [obj for obj in objects.get("ipauth", {}).values() if isinstance(obj, IpAuthConfig)]
    egress_credentials = _egress_credentials(ipauths, keys, problems)

    users: dict[tuple[str, str], SipUserConfig] = {}
    user_acls: dict[uuid.UUID, AddressAcl] = {}
    for obj in objects.get("sipuser", {}).values():
        assert isinstance(obj, SipUserConfig)
        users[(obj.username, obj.realm)] = obj
        user_acls[obj.id] = _acl(obj.allowed_sources, f"sipuser.{obj.id}", problems)

    customers: dict[str, CustomerConfig] = {}
    customer_acls: dict[str, AddressAcl] = {}
    for obj in objects.get("customer", {}).values():
        assert isinstance(obj, CustomerConfig)
        customers[str(obj.id)] = obj
        customer_acls[str(obj.id)] = _acl(obj.source_ranges, f"customer.{obj.id}", problems)

    grouped: dict[uuid.UUID, list[ParameterRewriteRule]] = {}
    for obj in objects.get("rewrite", {}).values():
        assert isinstance(obj, RewriteConfig)
        try:
            rule = parse_rewrite_rule(_dump(obj), f"rewrite.{obj.id}")
        except InvalidConfig as exc:
            problems.append(str(exc))
            continue
        grouped.setdefault(obj.owner_id, []).append(rule)
    rewrites: dict[uuid.UUID, Rewrites] = {}
    for owner, rules in grouped.items():
        rules.sort(key=lambda rule: (rule.order, rule.id))
        rewrites[owner] = Rewrites(
            tuple(r for r in rules if r.target is RewriteTarget.DESTINATION),
            tuple(r for r in rules if r.target is RewriteTarget.CLI),
        )

    failover: dict[str, frozenset[int]] = {
        carrier.id: frozenset(
            code
            for code in _FINAL_FAILURES
            if next_action(code, carrier) is FailoverAction.FAILOVER
        )
        for carrier in table.carriers.values()
    }

    cli_patterns: dict[str, list[DialPattern]] = {}
    for route in table.routes:
        if route.cli_pattern is not None:
            cli_patterns.setdefault(route.customer_id, []).append(route.cli_pattern)

    firewall_rules = []
    for obj in objects.get("firewall", {}).values():
        assert isinstance(obj, FirewallConfig)
        network = network_or_none(obj.network)
        if network is None:
            problems.append(f"firewall.{obj.id}: {obj.network!r} is not a network")
            continue
        firewall_rules.append((network, obj))

    settings = objects.get("settings", {}).get(SETTINGS_ID)
    if not isinstance(settings, SettingsConfig):
        settings = SettingsConfig(id=SETTINGS_ID)

    return PolicySnapshot(
        table=table,
        ipauth=IpAuthIndex(ipauths),
        ipauth_by_id={str(obj.id): obj for obj in ipauths},
        sip_users=users,
        user_acls=user_acls,
        customers=customers,
        customer_acls=customer_acls,
        rewrites=rewrites,
        failover_codes=failover,
        cli_patterns={k: tuple(v) for k, v in cli_patterns.items()},
        firewall=CidrIndex(firewall_rules),
        settings=settings,
        egress_credentials=egress_credentials,
        problems=tuple(problems),
        built_at=built_at,
    )
