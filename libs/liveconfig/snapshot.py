"""The configuration as the database holds it: rows → config objects, and the reconciler.

switch_api publishes the objects a write touched with the same converters (so a reconcile never
"corrects" a fresh publish), and :func:`reconcile_database` — run by ``tandem config publish``
and at switch_api's start-up — makes the bucket and the object store match the database.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.bus import CONFIG_BUCKET
from libs.db import Database, utcnow
from libs.db.models import (
    ApiKey,
    Carrier,
    Customer,
    DailySpend,
    Direction,
    FirewallRule,
    IpAuthEntry,
    LookupAccess,
    LookupDataset,
    LookupDatasetChunk,
    Operator,
    Rate,
    RateCard,
    RateCardRevision,
    RewriteRule,
    Route,
    SipUser,
    SwitchSettings,
    Zone,
)
from libs.liveconfig.models import (
    CONFIG_KINDS,
    SETTINGS_ID,
    BalanceConfig,
    CarrierConfig,
    CarrierTimeoutsConfig,
    CustomerConfig,
    FirewallConfig,
    GatewayConfig,
    IpAuthConfig,
    LookupKeyConfig,
    RewriteConfig,
    RouteCarrierConfig,
    RouteConfig,
    SettingsConfig,
    SipUserConfig,
    encode_rate_card,
    json_line,
)
from libs.liveconfig.objects import BlobPointer, ConfigObject, config_key
from libs.liveconfig.publisher import ConfigPublisher, ReconcileReport

__all__ = [
    "RATECARD",
    "CompiledRateCard",
    "amount",
    "balance_config",
    "carrier_config",
    "compile_rate_card",
    "customer_config",
    "dataset_blob",
    "firewall_config",
    "ipauth_config",
    "live_revisions",
    "load_snapshot",
    "lookup_key_config",
    "lookup_keys",
    "reconcile_database",
    "rewrite_config",
    "route_config",
    "settings_config",
    "sipuser_config",
    "zone_names",
]

#: The blob kind of compiled rate cards (pointer key ``ratecard.<card id>``).
RATECARD = "ratecard"


def amount(value: Decimal) -> str:
    """A decimal string without trailing zeros (``0.0125``, ``0``, ``100``)."""
    return format(value.normalize(), "f")


def balance_config(
    row: Customer, *, spent_today: Decimal = Decimal(0), day: date | None = None
) -> BalanceConfig:
    """The customer's balance as the database holds it, with the spend of the UTC day ``day``.

    The version is the customer's ``balance_version`` (bumped by every balance change), not
    the customer's own ``version``: editing a customer's limits does not move its money.
    """
    return BalanceConfig(
        id=row.id,
        version=row.balance_version,
        balance=amount(row.balance),
        currency=row.currency,
        spent_today=amount(spent_today),
        day=day,
    )


def customer_config(row: Customer) -> CustomerConfig:
    return CustomerConfig(
        id=row.id,
        version=row.version,
        name=row.name,
        status=row.status.value,
        currency=row.currency,
        debit_limit=amount(row.debit_limit),
        daily_spend_limit=amount(row.daily_spend_limit),
        channel_limit=row.channel_limit,
        cps_limit=row.cps_limit,
        max_call_duration=row.max_call_duration,
        source_ranges=list(row.source_ranges),
        flood_max_requests=row.flood_max_requests,
    )


def _gateway(entry: IpAuthEntry) -> GatewayConfig:
    transport = "tls" if entry.transport.value == "tls_srtp" else entry.transport.value
    return GatewayConfig(
        id=str(entry.id),
        host=entry.address.split("/", 1)[0],
        port=entry.port,
        transport=transport,
        weight=entry.weight,
    )


def carrier_config(row: Carrier, gateways: Sequence[IpAuthEntry]) -> CarrierConfig:
    """``gateways``: the carrier's egress IP authentication entries."""
    return CarrierConfig(
        id=row.id,
        version=row.version,
        name=row.name,
        status=row.status.value,
        rate_card_id=str(row.rate_card_id) if row.rate_card_id else None,
        channel_limit=row.channel_limit,
        cps_limit=row.cps_limit,
        timeouts=CarrierTimeoutsConfig(
            first_reply=row.first_reply_timeout,
            post_dial_delay=row.post_dial_delay_timeout,
            ring=row.ring_timeout,
        ),
        failover_codes=list(row.failover_codes),
        stop_codes=list(row.stop_codes),
        tech_prefix=row.tech_prefix,
        pai_policy=row.pai_policy.value,
        gateways=[
            _gateway(g)
            for g in sorted(gateways, key=lambda g: str(g.id))
            if g.direction is Direction.EGRESS
        ],
    )


def ipauth_config(row: IpAuthEntry, zones: Mapping[uuid.UUID, str]) -> IpAuthConfig:
    return IpAuthConfig(
        id=row.id,
        version=row.version,
        owner="customer" if row.customer_id else "carrier",
        customer_id=row.customer_id,
        carrier_id=row.carrier_id,
        address=row.address,
        direction=row.direction.value,
        port=row.port,
        transport=row.transport.value,
        tech_prefix=row.tech_prefix,
        cli_auth=row.cli_auth,
        channel_limit=row.channel_limit,
        cps_limit=row.cps_limit,
        force_nat=row.force_nat,
        weight=row.weight,
        username=row.username,
        password_ciphertext=row.password_ciphertext,
        restricted_codecs=list(row.restricted_codecs),
        media_zone=zones.get(row.media_zone_id) if row.media_zone_id else None,
    )


def sipuser_config(row: SipUser) -> SipUserConfig:
    return SipUserConfig(
        id=row.id,
        version=row.version,
        customer_id=row.customer_id,
        username=row.username,
        realm=row.realm,
        ha1_md5=row.ha1_md5,
        ha1_sha256=row.ha1_sha256,
        channel_limit=row.channel_limit,
        cps_limit=row.cps_limit,
        allowed_sources=list(row.allowed_sources),
        calls_outside_allow_list=row.calls_outside_allow_list,
        nat_ping=row.nat_ping.value,
        retain_did=row.retain_did,
        transport=row.transport.value,
        restricted_codecs=list(row.restricted_codecs),
    )


def rewrite_config(row: RewriteRule) -> RewriteConfig:
    owner_id = row.ip_auth_id or row.sip_user_id
    assert owner_id is not None
    return RewriteConfig(
        id=row.id,
        version=row.version,
        owner="ipauth" if row.ip_auth_id else "sipuser",
        owner_id=owner_id,
        target=row.target.value,
        match_kind=row.kind.value,
        match=row.match,
        replacement=row.replacement,
        order=row.position,
    )


def route_config(row: Route, zones: Mapping[uuid.UUID, str]) -> RouteConfig:
    return RouteConfig(
        id=row.id,
        version=row.version,
        customer_id=str(row.customer_id),
        name=row.name,
        rate_card_id=str(row.rate_card_id),
        tech_prefix=row.tech_prefix,
        dial_pattern={row.dial_kind.value: row.dial_pattern},
        cli_pattern=(
            {row.cli_kind.value: row.cli_pattern}
            if row.cli_kind is not None and row.cli_pattern is not None
            else None
        ),
        strategy=row.strategy.value,
        carriers=[RouteCarrierConfig(**c) for c in row.carriers],
        excluded_carriers=list(row.excluded_carrier_ids),
        media_zone=zones.get(row.media_zone_id) if row.media_zone_id else None,
        media_mode=row.media_mode.value,
        max_duration=row.max_duration,
        channel_limit=row.channel_limit,
        cps_limit=row.cps_limit,
        priority=row.priority,
        allow_below_cost=row.allow_below_cost,
    )


def firewall_config(row: FirewallRule) -> FirewallConfig:
    return FirewallConfig(
        id=row.id,
        version=row.version,
        network=row.network,
        action=row.action.value,
        source=row.source.value,
        expires_at=row.expires_at,
    )


def settings_config(row: SwitchSettings | None) -> SettingsConfig:
    """The settings object; the defaults while no one has changed them (no row yet)."""
    if row is None:
        return SettingsConfig(id=SETTINGS_ID, version=0)
    fields = set(SettingsConfig.model_fields) - {"id", "version"}
    return SettingsConfig(
        id=SETTINGS_ID, version=row.version, **{name: getattr(row, name) for name in fields}
    )


def lookup_key_config(
    access: LookupAccess, key: ApiKey, owner_sources: Sequence[str] = ()
) -> LookupKeyConfig:
    allowed = [list(key.allowed_sources or [])]
    if owner_sources:
        allowed.append(list(owner_sources))
    return LookupKeyConfig(
        id=key.id,
        version=access.version,
        lookup_id=key.lookup_id,
        key_hash=key.key_hash,
        name=key.name,
        customer_id=key.customer_id,
        allowed_sources=[a for a in allowed if a],
        requests_per_second=access.requests_per_second,
        daily_quota=access.daily_quota,
    )


async def lookup_keys(
    session: AsyncSession, key_ids: Sequence[uuid.UUID] | None = None
) -> list[LookupKeyConfig]:
    """The lookup_api keys: keys with lookup access that are not revoked, whose owner is an
    enabled operator or a customer that is not closed (``key_ids``: only those)."""
    statement = (
        select(LookupAccess, ApiKey, Operator, Customer)
        .join(ApiKey, ApiKey.id == LookupAccess.api_key_id)
        .outerjoin(Operator, Operator.id == ApiKey.operator_id)
        .outerjoin(Customer, Customer.id == ApiKey.customer_id)
        .where(ApiKey.revoked_at.is_(None))
    )
    if key_ids is not None:
        statement = statement.where(LookupAccess.api_key_id.in_(list(key_ids)))
    found: list[LookupKeyConfig] = []
    for access, key, operator, customer in (await session.execute(statement)).all():
        if operator is not None and operator.disabled:
            continue
        if customer is not None and customer.status.value == "closed":
            continue
        sources = operator.allowed_sources if operator is not None else []
        found.append(lookup_key_config(access, key, sources))
    return found


async def dataset_blob(session: AsyncSession, dataset_id: uuid.UUID) -> bytes:
    """A dataset's compiled blob, joined from its stored chunks."""
    chunks = await session.scalars(
        select(LookupDatasetChunk.data)
        .where(LookupDatasetChunk.dataset_id == dataset_id)
        .order_by(LookupDatasetChunk.seq)
    )
    return b"".join(chunks)


async def zone_names(session: AsyncSession) -> dict[uuid.UUID, str]:
    return {z.id: z.name for z in (await session.scalars(select(Zone))).all()}


async def load_snapshot(
    session: AsyncSession, *, now: datetime | None = None
) -> list[ConfigObject]:
    """Every key-value configuration object the database implies at ``now`` (expired firewall
    rules excluded)."""
    now = now or utcnow()
    zones = await zone_names(session)
    objects: list[ConfigObject] = []
    customers = (await session.scalars(select(Customer))).all()
    objects += [customer_config(c) for c in customers]
    today = now.astimezone(UTC).date()
    spent: dict[uuid.UUID, Decimal] = dict(
        (
            await session.execute(
                select(DailySpend.customer_id, DailySpend.amount).where(DailySpend.day == today)
            )
        ).all()
    )
    objects += [
        balance_config(c, spent_today=spent.get(c.id, Decimal(0)), day=today) for c in customers
    ]
    entries = (await session.scalars(select(IpAuthEntry))).all()
    by_carrier: dict[uuid.UUID, list[IpAuthEntry]] = {}
    for entry in entries:
        if entry.carrier_id is not None:
            by_carrier.setdefault(entry.carrier_id, []).append(entry)
    objects += [ipauth_config(e, zones) for e in entries]
    objects += [
        carrier_config(c, by_carrier.get(c.id, []))
        for c in (await session.scalars(select(Carrier))).all()
    ]
    objects += [sipuser_config(u) for u in (await session.scalars(select(SipUser))).all()]
    objects += [rewrite_config(r) for r in (await session.scalars(select(RewriteRule))).all()]
    objects += [route_config(r, zones) for r in (await session.scalars(select(Route))).all()]
    live_rules = select(FirewallRule).where(
        or_(FirewallRule.expires_at.is_(None), FirewallRule.expires_at > now)
    )
    objects += [firewall_config(f) for f in (await session.scalars(live_rules)).all()]
    objects.append(settings_config(await session.get(SwitchSettings, SETTINGS_ID)))
    objects += await lookup_keys(session)
    return objects


def live_revisions(revisions: Sequence[RateCardRevision], now: datetime) -> list[RateCardRevision]:
    """The revision in effect at ``now`` and the scheduled ones (drafts and superseded left
    out), oldest first."""
    dated = sorted(
        (r for r in revisions if r.effective_from is not None),
        key=lambda r: r.effective_from,  # type: ignore[arg-type, return-value]
    )
    current = [r for r in dated if r.effective_from <= now]  # type: ignore[operator]
    scheduled = [r for r in dated if r.effective_from > now]  # type: ignore[operator]
    return current[-1:] + scheduled


@dataclass(frozen=True, slots=True)
class CompiledRateCard:
    data: bytes
    version: int
    rates: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


async def _rate_rows(
    session: AsyncSession, revision_id: uuid.UUID
) -> AsyncIterator[tuple[Any, ...]]:
    statement = (
        select(
            Rate.prefix,
            Rate.destination,
            Rate.rate,
            Rate.connection_fee,
            Rate.initial_increment,
            Rate.subsequent_increment,
            Rate.blocked,
        )
        .where(Rate.revision_id == revision_id)
        .order_by(Rate.prefix)
        .execution_options(yield_per=5000)
    )
    result = await session.stream(statement)
    # One await per partition, not per row: a 500,000-rate card compiles in seconds.
    async for partition in result.partitions(5000):
        for prefix, destination, rate, fee, initial, subsequent, blocked in partition:
            yield (prefix, destination, amount(rate), amount(fee), initial, subsequent, blocked)


async def compile_rate_card(
    session: AsyncSession, card_id: uuid.UUID, *, now: datetime | None = None
) -> CompiledRateCard | None:
    """The card's blob (see :func:`libs.liveconfig.models.encode_rate_card`), ``None`` if the
    card does not exist."""
    now = now or utcnow()
    card = await session.get(RateCard, card_id)
    if card is None:
        return None
    revisions = (
        await session.scalars(
            select(RateCardRevision).where(RateCardRevision.rate_card_id == card_id)
        )
    ).all()
    head = {
        "id": str(card.id),
        "name": card.name,
        "currency": card.currency,
        "precision": card.precision,
        "rounding": card.rounding,
        "default_increments": f"{card.default_initial}/{card.default_subsequent}",
    }
    chunks = list(encode_rate_card(head, []))
    count = 0
    for revision in live_revisions(revisions, now):
        assert revision.effective_from is not None
        header = {"id": str(revision.id), "effective_from": revision.effective_from.isoformat()}
        chunks.append(json_line({"revision": header}))
        async for row in _rate_rows(session, revision.id):
            chunks.append(json_line(row))
            count += 1
    return CompiledRateCard(b"".join(chunks), card.version, count)


async def reconcile_database(
    database: Database,
    publisher: ConfigPublisher,
    *,
    now: datetime | None = None,
    bucket: str = CONFIG_BUCKET,
) -> ReconcileReport:
    """Make NATS match the database: every key-value kind, then every rate card's blob."""
    now = now or utcnow()
    async with database.session() as session:
        objects = await load_snapshot(session, now=now)
        card_ids = list((await session.scalars(select(RateCard.id))).all())
    report = await publisher.reconcile(objects, kinds=set(CONFIG_KINDS))
    bus = publisher.require_bus()
    kv = await bus.key_value(bucket)
    existing: dict[str, BlobPointer] = {}
    try:
        keys = await kv.keys()
    except Exception:
        keys = []
    for key in keys:
        if key.startswith(RATECARD + "."):
            entry = await kv.get(key)
            try:
                existing[key] = BlobPointer.from_bytes(entry.value or b"")
            except Exception:
                existing[key] = None  # type: ignore[assignment]
    for card_id in card_ids:
        key = config_key(RATECARD, card_id)
        async with database.session() as session:
            compiled = await compile_rate_card(session, card_id, now=now)
        if compiled is None:
            continue
        pointer = existing.pop(key, None)
        if pointer is not None and pointer.sha256 == compiled.sha256:
            report.unchanged += 1
            continue
        await publisher.put_blob(RATECARD, card_id, compiled.data, version=compiled.version)
        report.written.append(key)
    for key in sorted(existing):
        await kv.delete(key)
        report.deleted.append(key)
    await _reconcile_datasets(database, publisher, kv, keys, report)
    return report


async def _reconcile_datasets(
    database: Database,
    publisher: ConfigPublisher,
    kv: Any,
    keys: Sequence[str],
    report: ReconcileReport,
) -> None:
    """Every imported lookup dataset's blob published, and pointers of deleted ones removed."""
    kinds = ("lrn.", "cnam.", "dnc.")
    existing: dict[str, str] = {}
    for key in keys:
        if key.startswith(kinds):
            entry = await kv.get(key)
            try:
                existing[key] = BlobPointer.from_bytes(entry.value or b"").sha256
            except Exception:
                existing[key] = ""
    async with database.session() as session:
        datasets = (
            await session.execute(
                select(
                    LookupDataset.id,
                    LookupDataset.kind,
                    LookupDataset.blob_sha256,
                    LookupDataset.version,
                )
            )
        ).all()
    for dataset_id, kind, sha256, version in datasets:
        key = config_key(kind.value, dataset_id)
        published = existing.pop(key, None)
        if not sha256:
            continue  # never imported: nothing to serve yet
        if published == sha256:
            report.unchanged += 1
            continue
        async with database.session() as session:
            data = await dataset_blob(session, dataset_id)
        await publisher.put_blob(kind.value, dataset_id, data, version=version)
        report.written.append(key)
    for key in sorted(existing):
        await kv.delete(key)
        report.deleted.append(key)
