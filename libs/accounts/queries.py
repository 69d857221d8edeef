"""The cross-table lookups a customer's configuration needs: its row (locked for capacity
checks), the channels its SIP users hold, the rewrite rules a delete takes with it, the SIP
realm, the zones, and the addresses its traffic comes from with the firewall blocks on them.
All of it is SQL, so it lives here rather than in the services."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.db.models import (
    SETTINGS_ID,
    Carrier,
    Customer,
    Direction,
    FirewallAction,
    FirewallRule,
    IpAuthEntry,
    RewriteRule,
    SipUser,
    SwitchSettings,
    Zone,
)
from libs.liveconfig.models import CarrierConfig, SettingsConfig
from libs.liveconfig.snapshot import carrier_config, zone_names

__all__ = ["AccountQueries", "Key"]

#: A live-configuration key: ``(kind, id)``.
Key = tuple[str, uuid.UUID]

_DEFAULT_REALM = SettingsConfig(id=SETTINGS_ID).sip_realm


class AccountQueries:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def customer(self, customer_id: uuid.UUID, *, lock: bool = False) -> Customer | None:
        """The customer; ``lock`` holds its row until commit (PostgreSQL ``FOR UPDATE``; SQLite
        serialises writers anyway) so capacity checks cannot race."""
        if not lock:
            return await self.session.get(Customer, customer_id)
        statement = select(Customer).where(Customer.id == customer_id).with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def sip_channels(
        self, customer_id: uuid.UUID, *, excluding: uuid.UUID | None = None
    ) -> int:
        """The channels the customer's SIP users hold (one of them left out, if given)."""
        statement = select(func.coalesce(func.sum(SipUser.channel_limit), 0)).where(
            SipUser.customer_id == customer_id
        )
        if excluding is not None:
            statement = statement.where(SipUser.id != excluding)
        return int(await self.session.scalar(statement) or 0)

    async def rewrite_keys(
        self, *, ip_auth_ids: Sequence[uuid.UUID] = (), sip_user_ids: Sequence[uuid.UUID] = ()
    ) -> list[Key]:
        """The keys of the rewrite rules that deleting these entries or users cascades to."""
        if not ip_auth_ids and not sip_user_ids:
            return []
        ids = (
            await self.session.scalars(
                select(RewriteRule.id).where(
                    or_(
                        RewriteRule.ip_auth_id.in_(list(ip_auth_ids)),
                        RewriteRule.sip_user_id.in_(list(sip_user_ids)),
                    )
                )
            )
        ).all()
        return [("rewrite", i) for i in ids]

    async def sip_realm(self) -> str:
        """The realm new SIP user HA1s are computed in (the global setting, or its default)."""
        realm = await self.session.scalar(
            select(SwitchSettings.sip_realm).where(SwitchSettings.id == SETTINGS_ID)
        )
        return realm if realm is not None else _DEFAULT_REALM

    async def carrier_object(self, carrier: Carrier) -> CarrierConfig:
        """The carrier's config object, with its gateways (egress entries)."""
        gateways = (
            await self.session.scalars(
                select(IpAuthEntry).where(
                    IpAuthEntry.carrier_id == carrier.id,
                    IpAuthEntry.direction == Direction.EGRESS,
                )
            )
        ).all()
        return carrier_config(carrier, gateways)

    async def zones(self) -> dict[uuid.UUID, str]:
        return await zone_names(self.session)

    async def zone_exists(self, zone_id: uuid.UUID) -> bool:
        return await self.session.get(Zone, zone_id) is not None

    async def customer_sources(self, customer_id: uuid.UUID) -> list[str]:
        """The networks a customer's traffic comes from: its IP authentication entries'
        addresses and its source ranges (FQDNs included, as stored)."""
        addresses = (
            await self.session.scalars(
                select(IpAuthEntry.address).where(IpAuthEntry.customer_id == customer_id)
            )
        ).all()
        ranges = await self.session.scalar(
            select(Customer.source_ranges).where(Customer.id == customer_id)
        )
        return [*addresses, *(ranges or [])]

    async def blocks(self, active_at: datetime | None) -> Sequence[FirewallRule]:
        """Firewall block rules not expired at ``active_at`` (``None``: every one)."""
        statement = select(FirewallRule).where(FirewallRule.action == FirewallAction.BLOCK)
        if active_at is not None:
            statement = statement.where(
                or_(FirewallRule.expires_at.is_(None), FirewallRule.expires_at > active_at)
            )
        return (await self.session.scalars(statement)).all()
